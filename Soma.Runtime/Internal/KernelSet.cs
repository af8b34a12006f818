using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>Every Soma kernel, compiled and loaded once per engine.</summary>
internal sealed class KernelSet
{
    /// <summary>How many kernels the constructor compiles and loads (for the engine's log line).</summary>
    public const int Count = 9;

    public KernelSet(Accelerator accelerator)
    {
        Qkv = accelerator.LoadKernel<QkvProjectionArgs>(Projection.QkvKernel);
        Linear = accelerator.LoadKernel<LinearArgs>(Projection.LinearKernel);
        QkvReduce = accelerator.LoadKernel<QkvProjectionArgs>(Projection.QkvReduceKernel);
        LinearReduce = accelerator.LoadKernel<LinearArgs>(Projection.LinearReduceKernel);
        RopeTable = accelerator.LoadKernel<ArrayView<long>, ArrayView<double>, ArrayView<float>, ArrayView<float>, int, int>(
            RopeAngles.TableKernel);
        FieldScan = accelerator.LoadKernel<SegmentArgs, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<double>, int, int>(
            Kernels.FieldScan.ScanKernel);
        Attention = accelerator.LoadKernel<AttentionArgs, SegmentArgs>(NearFieldAttention.Kernel);
        AttentionCombine = accelerator.LoadKernel<AttentionArgs>(NearFieldAttention.CombineKernel);
        Commit = accelerator.LoadKernel<SegmentArgs, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<double>, int, int, int, int>(
            StateCommit.Kernel);
    }

    public Action<AcceleratorStream, KernelConfig, QkvProjectionArgs> Qkv { get; }

    public Action<AcceleratorStream, KernelConfig, LinearArgs> Linear { get; }

    public Action<AcceleratorStream, KernelConfig, QkvProjectionArgs> QkvReduce { get; }

    public Action<AcceleratorStream, KernelConfig, LinearArgs> LinearReduce { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<long>, ArrayView<double>, ArrayView<float>, ArrayView<float>, int, int> RopeTable { get; }

    public Action<AcceleratorStream, KernelConfig, SegmentArgs, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<double>, int, int> FieldScan { get; }

    public Action<AcceleratorStream, KernelConfig, AttentionArgs, SegmentArgs> Attention { get; }

    public Action<AcceleratorStream, KernelConfig, AttentionArgs> AttentionCombine { get; }

    public Action<AcceleratorStream, KernelConfig, SegmentArgs, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<double>, int, int, int, int> Commit { get; }
}
