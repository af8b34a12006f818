using System.Collections.ObjectModel;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// The one list of Soma kernels (name and entry point) and the one compiler setup: the engine loads these
/// (<see cref="KernelSet"/>) and `soma ptx` compiles these (<see cref="KernelPtx"/>), so the two cannot drift apart.
/// Every kernel is explicitly grouped: its launch takes a <see cref="KernelConfig"/>.
/// </summary>
internal static class KernelCatalog
{
    /// <summary>The ILGPU optimisation level the engine compiles kernels at.</summary>
    public const OptimizationLevel EngineOptimization = OptimizationLevel.O1;

    /// <summary>QKV projection (with bias, RoPE and the ring write folded in).</summary>
    public static Action<QkvProjectionArgs> Qkv => Projection.QkvKernel;

    /// <summary>Plain projection (the output projection).</summary>
    public static Action<LinearArgs> Linear => Projection.LinearKernel;

    /// <summary>Reduce of the split-K partial sums of <see cref="Qkv"/>.</summary>
    public static Action<QkvProjectionArgs> QkvReduce => Projection.QkvReduceKernel;

    /// <summary>Reduce of the split-K partial sums of <see cref="Linear"/>.</summary>
    public static Action<LinearArgs> LinearReduce => Projection.LinearReduceKernel;

    /// <summary>RoPE cos/sin table for the call's positions.</summary>
    public static Action<ArrayView<long>, ArrayView<double>, ArrayView<float>, ArrayView<float>, int, int> RopeTable =>
        RopeAngles.TableKernel;

    /// <summary>The field recurrence over a segment's tokens.</summary>
    public static Action<SegmentArgs, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<double>, int, int> FieldScan =>
        Kernels.FieldScan.ScanKernel;

    /// <summary>Near-field (ring) attention plus the field term.</summary>
    public static Action<AttentionArgs, SegmentArgs> Attention => NearFieldAttention.Kernel;

    /// <summary>Combine of the split-window partial softmax states of <see cref="Attention"/>.</summary>
    public static Action<AttentionArgs> AttentionCombine => NearFieldAttention.CombineKernel;

    /// <summary>Commit of ring rows and the field into the session state.</summary>
    public static Action<SegmentArgs, ArrayView<float>, ArrayView<float>, ArrayView<double>, ArrayView<float>, ArrayView<float>, ArrayView<double>, int, int, int, int> Commit =>
        StateCommit.Kernel;

    /// <summary>Whole-model kernels: embedding and row gathers.</summary>
    public static Action<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, long, long> RowGather => Kernels.RowGather.Kernel;

    /// <summary>Whole-model kernels: RMSNorm of rows.</summary>
    public static Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float> RmsNorm => Kernels.RmsNorm.Kernel;

    /// <summary>Whole-model kernels: silu(gate) * up.</summary>
    public static Action<ArrayView<float>, ArrayView<float>, int, int> SwiGlu => Kernels.SwiGlu.Kernel;

    /// <summary>Whole-model kernels: residual add.</summary>
    public static Action<ArrayView<float>, ArrayView<float>, int> ResidualAdd => Kernels.ResidualAdd.Kernel;

    /// <summary>Whole-model kernels: argmax of each row of logits.</summary>
    public static Action<ArrayView<float>, ArrayView<int>, int, int> Argmax => Kernels.Argmax.Kernel;

    /// <summary>Every kernel with a short file-safe name, in launch order of a layer call, then the whole-model kernels.</summary>
    public static ReadOnlyCollection<Entry> All { get; } = Array.AsReadOnly(new Entry[]
    {
        new("rope-table", RopeTable),
        new("qkv", Qkv),
        new("qkv-reduce", QkvReduce),
        new("field-scan", FieldScan),
        new("attention", Attention),
        new("attention-combine", AttentionCombine),
        new("linear", Linear),
        new("linear-reduce", LinearReduce),
        new("commit", Commit),
        new("row-gather", RowGather),
        new("rms-norm", RmsNorm),
        new("swiglu", SwiGlu),
        new("residual-add", ResidualAdd),
        new("argmax", Argmax),
    });

    /// <summary>The compiler setup shared by the engine and `soma ptx`: algorithms library and <paramref name="level"/>.</summary>
    public static Context.Builder Configure(Context.Builder builder, OptimizationLevel level) =>
        builder.EnableAlgorithms().Optimize(level);

    /// <summary>One kernel: a short name (the .ptx file name) and its entry point.</summary>
    /// <param name="Name">Short, file-safe name.</param>
    /// <param name="Kernel">The explicitly grouped kernel method as a delegate.</param>
    public sealed record Entry(string Name, Delegate Kernel);
}
