using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>Every Soma kernel of <see cref="KernelCatalog"/>, compiled and loaded once per engine.</summary>
internal sealed class KernelSet
{
    /// <summary>How many kernels the constructor compiles and loads (for the engine's log line).</summary>
    public static int Count => KernelCatalog.All.Count;

    public KernelSet(Accelerator accelerator)
    {
        Qkv = accelerator.LoadKernel<QkvProjectionArgs>(KernelCatalog.Qkv);
        Linear = accelerator.LoadKernel<LinearArgs>(KernelCatalog.Linear);
        QkvReduce = accelerator.LoadKernel<QkvProjectionArgs>(KernelCatalog.QkvReduce);
        LinearReduce = accelerator.LoadKernel<LinearArgs>(KernelCatalog.LinearReduce);
        RopeTable = accelerator.LoadKernel<ArrayView<long>, ArrayView<double>, ArrayView<float>, ArrayView<float>, int, int>(
            KernelCatalog.RopeTable);
        FieldScan = accelerator.LoadKernel<SegmentArgs, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<double>, int, int>(
            KernelCatalog.FieldScan);
        Attention = accelerator.LoadKernel<AttentionArgs, SegmentArgs>(KernelCatalog.Attention);
        AttentionCombine = accelerator.LoadKernel<AttentionArgs>(KernelCatalog.AttentionCombine);
        Commit = accelerator.LoadKernel<SegmentArgs, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<double>, int, int, int, int>(
            KernelCatalog.Commit);
        Decoder = new DecoderKernels(accelerator);
    }

    /// <summary>The whole-model kernels (<see cref="DecoderKernels"/>).</summary>
    public DecoderKernels Decoder { get; }

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
