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
    /// <summary>
    /// The ILGPU optimisation level the engine compiles kernels at: O2, whose address-space inference turns the
    /// generic loads of O1 into global ones (`ld.global`, LDG) on GPUs.
    /// </summary>
    public const OptimizationLevel EngineOptimization = OptimizationLevel.O2;

    /// <summary>QKV projection: the shared tile loop with the bias, head split and RoPE epilogue.</summary>
    public static Action<ProjectionArgs, BiasRopeEpilogue> Qkv => Projection.TileKernel<BiasRopeEpilogue>;

    /// <summary>QKV projection of a decode pass: the GEMV with 128-bit weight loads and the same epilogue.</summary>
    public static Action<ProjectionArgs, BiasRopeEpilogue> QkvGemv => Gemv.Kernel<BiasRopeEpilogue>;

    /// <summary>Reduce of the split-K partial sums of <see cref="Qkv"/> or <see cref="QkvGemv"/>, with the same epilogue.</summary>
    public static Action<ProjectionArgs, BiasRopeEpilogue> QkvReduce => SplitKReduce.Kernel<BiasRopeEpilogue>;

    /// <summary>Plain projection (the output projection): the shared tile loop with the bias epilogue.</summary>
    public static Action<ProjectionArgs, BiasEpilogue> Linear => Projection.TileKernel<BiasEpilogue>;

    /// <summary>Output projection of a decode pass: the GEMV with 128-bit weight loads and the bias epilogue.</summary>
    public static Action<ProjectionArgs, BiasEpilogue> LinearGemv => Gemv.Kernel<BiasEpilogue>;

    /// <summary>Reduce of the split-K partial sums of <see cref="Linear"/> or <see cref="LinearGemv"/>, with the same epilogue.</summary>
    public static Action<ProjectionArgs, BiasEpilogue> LinearReduce => SplitKReduce.Kernel<BiasEpilogue>;

    /// <summary>RoPE cos/sin table for the call's positions.</summary>
    public static Action<RopeTableArgs> RopeTable => RopeAngles.TableKernel;

    /// <summary>The field recurrence over a segment's tokens.</summary>
    public static Action<FieldScanArgs> FieldScan => Kernels.FieldScan.ScanKernel;

    /// <summary>Near-field (ring) attention plus the field term.</summary>
    public static Action<AttentionArgs, AttentionTiling, SegmentArgs> Attention => NearFieldAttention.Kernel;

    /// <summary>Combine of the split-window partial softmax states of <see cref="Attention"/>.</summary>
    public static Action<AttentionArgs, AttentionTiling> AttentionCombine => SoftmaxCombine.Kernel;

    /// <summary>Commit of ring rows and the field into the session state.</summary>
    public static Action<CommitArgs> Commit => StateCommit.Kernel;

    /// <summary>Whole-model kernels: embedding and row gathers.</summary>
    public static Action<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, long, long> RowGather => Kernels.RowGather.Kernel;

    /// <summary>Whole-model kernels: RMSNorm of rows.</summary>
    public static Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float> RmsNorm => Kernels.RmsNorm.Kernel;

    /// <summary>Whole-model kernels: the MLP's gate|up projection with the silu(gate) * up epilogue.</summary>
    public static Action<ProjectionArgs, SwiGluEpilogue> GateUp => Projection.TileKernel<SwiGluEpilogue>;

    /// <summary>The gate|up projection of a decode pass: the GEMV with the SwiGLU epilogue.</summary>
    public static Action<ProjectionArgs, SwiGluEpilogue> GateUpGemv => Gemv.Kernel<SwiGluEpilogue>;

    /// <summary>Reduce of the split-K partial sums of <see cref="GateUp"/> or <see cref="GateUpGemv"/>.</summary>
    public static Action<ProjectionArgs, SwiGluEpilogue> GateUpReduce => SplitKReduce.Kernel<SwiGluEpilogue>;

    /// <summary>Whole-model kernels: the MLP's down projection with the residual-add epilogue.</summary>
    public static Action<ProjectionArgs, ResidualEpilogue> Down => Projection.TileKernel<ResidualEpilogue>;

    /// <summary>The down projection of a decode pass: the GEMV with the residual-add epilogue.</summary>
    public static Action<ProjectionArgs, ResidualEpilogue> DownGemv => Gemv.Kernel<ResidualEpilogue>;

    /// <summary>Reduce of the split-K partial sums of <see cref="Down"/> or <see cref="DownGemv"/>.</summary>
    public static Action<ProjectionArgs, ResidualEpilogue> DownReduce => SplitKReduce.Kernel<ResidualEpilogue>;

    /// <summary>Whole-model kernels: residual add.</summary>
    public static Action<ArrayView<float>, ArrayView<float>, int> ResidualAdd => Kernels.ResidualAdd.Kernel;

    /// <summary>Whole-model kernels: argmax of each row of logits.</summary>
    public static Action<ArrayView<float>, ArrayView<int>, int, int> Argmax => Kernels.Argmax.Kernel;

    /// <summary>Every kernel with a short file-safe name, in launch order of a layer call, then the whole-model kernels.</summary>
    public static ReadOnlyCollection<Entry> All { get; } = Array.AsReadOnly(new Entry[]
    {
        new("rope-table", RopeTable),
        new("qkv", Qkv),
        new("qkv-gemv", QkvGemv),
        new("qkv-reduce", QkvReduce),
        new("field-scan", FieldScan),
        new("attention", Attention),
        new("attention-combine", AttentionCombine),
        new("linear", Linear),
        new("linear-gemv", LinearGemv),
        new("linear-reduce", LinearReduce),
        new("commit", Commit),
        new("row-gather", RowGather),
        new("rms-norm", RmsNorm),
        new("gate-up", GateUp),
        new("gate-up-gemv", GateUpGemv),
        new("gate-up-reduce", GateUpReduce),
        new("down", Down),
        new("down-gemv", DownGemv),
        new("down-reduce", DownReduce),
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
