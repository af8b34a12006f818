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

    /// <summary>
    /// QKV projection: the shared tile loop with the bias, head split and RoPE epilogue, weights read as
    /// <typeparamref name="TW"/>, rotated k and v written as <typeparamref name="TR"/>.
    /// </summary>
    public static Action<ProjectionArgs, TW, BiasRopeEpilogue<TR>> Qkv<TW, TR>()
        where TW : struct, IElementView
        where TR : struct, IElementView => Projection.TileKernel<TW, BiasRopeEpilogue<TR>>;

    /// <summary>QKV projection of a decode pass: the GEMV (one 128-bit load of four fp32 weights, one 64-bit load of four 16-bit ones) and the same epilogue.</summary>
    public static Action<ProjectionArgs, TW, BiasRopeEpilogue<TR>> QkvGemv<TW, TR>()
        where TW : struct, IElementView
        where TR : struct, IElementView => Gemv.Kernel<TW, BiasRopeEpilogue<TR>>;

    /// <summary>Reduce of the split-K partial sums of <see cref="Qkv{TW, TR}"/> or <see cref="QkvGemv{TW, TR}"/>, with the same epilogue.</summary>
    public static Action<ProjectionArgs, BiasRopeEpilogue<TR>> QkvReduce<TR>()
        where TR : struct, IElementView => SplitKReduce.Kernel<BiasRopeEpilogue<TR>>;

    /// <summary>Plain projection (the output projection): the shared tile loop with the bias epilogue, weights read as <typeparamref name="TW"/>.</summary>
    public static Action<ProjectionArgs, TW, BiasEpilogue> Linear<TW>()
        where TW : struct, IElementView => Projection.TileKernel<TW, BiasEpilogue>;

    /// <summary>Output projection of a decode pass: the GEMV over weights read as <typeparamref name="TW"/> and the bias epilogue.</summary>
    public static Action<ProjectionArgs, TW, BiasEpilogue> LinearGemv<TW>()
        where TW : struct, IElementView => Gemv.Kernel<TW, BiasEpilogue>;

    /// <summary>Reduce of the split-K partial sums of <see cref="Linear{TW}"/> or <see cref="LinearGemv{TW}"/>, with the same epilogue.</summary>
    public static Action<ProjectionArgs, BiasEpilogue> LinearReduce => SplitKReduce.Kernel<BiasEpilogue>;

    /// <summary>RoPE cos/sin table for the call's positions.</summary>
    public static Action<RopeTableArgs> RopeTable => RopeAngles.TableKernel;

    /// <summary>The field recurrence over a segment's tokens.</summary>
    public static Action<FieldScanArgs> FieldScan => Kernels.FieldScan.ScanKernel;

    /// <summary>Near-field (ring) attention plus the field term, keys and values read as <typeparamref name="TR"/>.</summary>
    public static Action<AttentionArgs, AttentionTiling, SegmentArgs, StoredKeyValues<TR>> Attention<TR>()
        where TR : struct, IElementView => NearFieldAttention.Kernel<TR>;

    /// <summary>
    /// Split-KV decode attention (each row attends to its own session's keys; splits merged in the same launch), keys
    /// and values read as <typeparamref name="TR"/>.
    /// </summary>
    public static Action<AttentionArgs, AttentionTiling, SegmentArgs, StoredKeyValues<TR>> DecodeAttention<TR>()
        where TR : struct, IElementView => SplitKvDecodeAttention.Kernel<TR>;

    /// <summary>Combine of the split-window partial softmax states of <see cref="Attention{TR}"/>.</summary>
    public static Action<AttentionArgs, AttentionTiling> AttentionCombine => SoftmaxCombine.Kernel;

    /// <summary>Commit of ring rows (raw 16-bit units: one kernel for every storage type) and the field into the session state.</summary>
    public static Action<CommitArgs> Commit => StateCommit.Kernel;

    /// <summary>Whole-model kernels: embedding and row gathers, the table read as <typeparamref name="TW"/>.</summary>
    public static Action<TW, ArrayView<int>, ArrayView<float>, int, int, long, long> RowGather<TW>()
        where TW : struct, IElementView => Kernels.RowGather.Kernel<TW>;

    /// <summary>Whole-model kernels: RMSNorm of rows.</summary>
    public static Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float> RmsNorm => Kernels.RmsNorm.Kernel;

    /// <summary>Whole-model kernels: the MLP's gate|up projection with the silu(gate) * up epilogue, weights read as <typeparamref name="TW"/>.</summary>
    public static Action<ProjectionArgs, TW, SwiGluEpilogue> GateUp<TW>()
        where TW : struct, IElementView => Projection.TileKernel<TW, SwiGluEpilogue>;

    /// <summary>The gate|up projection of a decode pass: the GEMV with the SwiGLU epilogue.</summary>
    public static Action<ProjectionArgs, TW, SwiGluEpilogue> GateUpGemv<TW>()
        where TW : struct, IElementView => Gemv.Kernel<TW, SwiGluEpilogue>;

    /// <summary>Reduce of the split-K partial sums of <see cref="GateUp{TW}"/> or <see cref="GateUpGemv{TW}"/>.</summary>
    public static Action<ProjectionArgs, SwiGluEpilogue> GateUpReduce => SplitKReduce.Kernel<SwiGluEpilogue>;

    /// <summary>Whole-model kernels: the MLP's down projection with the residual-add epilogue, weights read as <typeparamref name="TW"/>.</summary>
    public static Action<ProjectionArgs, TW, ResidualEpilogue> Down<TW>()
        where TW : struct, IElementView => Projection.TileKernel<TW, ResidualEpilogue>;

    /// <summary>The down projection of a decode pass: the GEMV with the residual-add epilogue.</summary>
    public static Action<ProjectionArgs, TW, ResidualEpilogue> DownGemv<TW>()
        where TW : struct, IElementView => Gemv.Kernel<TW, ResidualEpilogue>;

    /// <summary>Reduce of the split-K partial sums of <see cref="Down{TW}"/> or <see cref="DownGemv{TW}"/>.</summary>
    public static Action<ProjectionArgs, ResidualEpilogue> DownReduce => SplitKReduce.Kernel<ResidualEpilogue>;

    /// <summary>Whole-model kernels: residual add.</summary>
    public static Action<ArrayView<float>, ArrayView<float>, int> ResidualAdd => Kernels.ResidualAdd.Kernel;

    /// <summary>Whole-model kernels: argmax of each row of logits, or with Gumbel noise a draw from their softmax.</summary>
    public static Action<ArrayView<float>, ArrayView<int>, int, int, float, long, long, int> Argmax => Kernels.Argmax.Kernel;

    /// <summary>Whole-model kernels: the k largest logits of each row with their indices.</summary>
    public static Action<ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, int> TopK => Kernels.TopK.Kernel;

    /// <summary>
    /// Every kernel with a short file-safe name, in launch order of a layer call, in its fp32-storage form (the whole-model kernels, fp32 only, at the end): the kernels
    /// a call profile counts launches of (a launch of a kernel's fp16 or bf16 variant counts for the kernel).
    /// </summary>
    public static ReadOnlyCollection<Entry> All { get; } = Array.AsReadOnly(new Entry[]
    {
        new("rope-table", RopeTable),
        new("qkv", Qkv<Float32View, Float32View>()),
        new("qkv-gemv", QkvGemv<Float32View, Float32View>()),
        new("qkv-reduce", QkvReduce<Float32View>()),
        new("field-scan", FieldScan),
        new("attention", Attention<Float32View>()),
        new("attention-combine", AttentionCombine),
        new("attention-decode", DecodeAttention<Float32View>()),
        new("linear", Linear<Float32View>()),
        new("linear-gemv", LinearGemv<Float32View>()),
        new("linear-reduce", LinearReduce),
        new("commit", Commit),
    }.Concat(WholeModel<Float32View>(false)).ToArray());

    /// <summary>
    /// Every compiled variant a plan can launch, what `soma ptx` compiles: each kernel of <see cref="All"/> once per
    /// storage type it reads or writes, named after the kernel with "-w" and the weights' type and "-r" and the ring's
    /// where that is not f32 (qkv and qkv-gemv: 3 x 3 variants, e.g. "qkv-wbf16-rf16"; qkv-reduce, attention and attention-decode: 3,
    /// e.g. "attention-rf16"; linear and linear-gemv: 3, e.g. "linear-gemv-wbf16"; the other kernels touch no stored
    /// element: 1).
    /// </summary>
    public static ReadOnlyCollection<Entry> Variants { get; } = Array.AsReadOnly(new Entry[]
    {
        new("rope-table", RopeTable),
        Variant("qkv", Qkv<Float32View, Float32View>(), 0, 1),
        Variant("qkv", Qkv<Float32View, Float16View>(), 0, 1),
        Variant("qkv", Qkv<Float32View, BFloat16View>(), 0, 1),
        Variant("qkv", Qkv<Float16View, Float32View>(), 0, 1),
        Variant("qkv", Qkv<Float16View, Float16View>(), 0, 1),
        Variant("qkv", Qkv<Float16View, BFloat16View>(), 0, 1),
        Variant("qkv", Qkv<BFloat16View, Float32View>(), 0, 1),
        Variant("qkv", Qkv<BFloat16View, Float16View>(), 0, 1),
        Variant("qkv", Qkv<BFloat16View, BFloat16View>(), 0, 1),
        Variant("qkv-gemv", QkvGemv<Float32View, Float32View>(), 0, 1),
        Variant("qkv-gemv", QkvGemv<Float32View, Float16View>(), 0, 1),
        Variant("qkv-gemv", QkvGemv<Float32View, BFloat16View>(), 0, 1),
        Variant("qkv-gemv", QkvGemv<Float16View, Float32View>(), 0, 1),
        Variant("qkv-gemv", QkvGemv<Float16View, Float16View>(), 0, 1),
        Variant("qkv-gemv", QkvGemv<Float16View, BFloat16View>(), 0, 1),
        Variant("qkv-gemv", QkvGemv<BFloat16View, Float32View>(), 0, 1),
        Variant("qkv-gemv", QkvGemv<BFloat16View, Float16View>(), 0, 1),
        Variant("qkv-gemv", QkvGemv<BFloat16View, BFloat16View>(), 0, 1),
        Variant("qkv-reduce", QkvReduce<Float32View>(), -1, 0),
        Variant("qkv-reduce", QkvReduce<Float16View>(), -1, 0),
        Variant("qkv-reduce", QkvReduce<BFloat16View>(), -1, 0),
        new("field-scan", FieldScan),
        Variant("attention", Attention<Float32View>(), -1, 0),
        Variant("attention", Attention<Float16View>(), -1, 0),
        Variant("attention", Attention<BFloat16View>(), -1, 0),
        new("attention-combine", AttentionCombine),
        Variant("attention-decode", DecodeAttention<Float32View>(), -1, 0),
        Variant("attention-decode", DecodeAttention<Float16View>(), -1, 0),
        Variant("attention-decode", DecodeAttention<BFloat16View>(), -1, 0),
        Variant("linear", Linear<Float32View>(), 0, -1),
        Variant("linear", Linear<Float16View>(), 0, -1),
        Variant("linear", Linear<BFloat16View>(), 0, -1),
        Variant("linear-gemv", LinearGemv<Float32View>(), 0, -1),
        Variant("linear-gemv", LinearGemv<Float16View>(), 0, -1),
        Variant("linear-gemv", LinearGemv<BFloat16View>(), 0, -1),
        new("linear-reduce", LinearReduce),
        new("commit", Commit),
    }.Concat(WholeModel<Float32View>(false)).Concat(WholeModel<Float16View>(true)).Concat(WholeModel<BFloat16View>(true)).ToArray());

    /// <summary>
    /// The whole-model kernels with weights (and the embedding table) read as <typeparamref name="TW"/>, at the end of
    /// <see cref="All"/> (fp32) and of <see cref="Variants"/> (fp32, then with <paramref name="weightedOnly"/> the five
    /// that read a weight, per 16-bit type, e.g. "gate-up-gemv-wbf16").
    /// </summary>
    private static IEnumerable<Entry> WholeModel<TW>(bool weightedOnly)
        where TW : struct, IElementView
    {
        var all = new[]
        {
            (Variant("row-gather", RowGather<TW>(), 0, -1), true),
            (new Entry("rms-norm", RmsNorm), false),
            (Variant("gate-up", GateUp<TW>(), 0, -1), true),
            (Variant("gate-up-gemv", GateUpGemv<TW>(), 0, -1), true),
            (new Entry("gate-up-reduce", GateUpReduce), false),
            (Variant("down", Down<TW>(), 0, -1), true),
            (Variant("down-gemv", DownGemv<TW>(), 0, -1), true),
            (new Entry("down-reduce", DownReduce), false),
            (new Entry("residual-add", ResidualAdd), false),
            (new Entry("argmax", Argmax), false),
            (new Entry("top-k", TopK), false),
        };
        return all.Where(e => e.Item2 || !weightedOnly).Select(e => e.Item1);
    }

    /// <summary>The compiler setup shared by the engine and `soma ptx`: algorithms library and <paramref name="level"/>.</summary>
    public static Context.Builder Configure(Context.Builder builder, OptimizationLevel level) =>
        builder.EnableAlgorithms().Optimize(level);

    /// <summary>
    /// The name of <paramref name="kernel"/>'s variant for weights viewed as <paramref name="weights"/> and a ring
    /// viewed as <paramref name="ring"/> (null: the kernel reads no such element), as <see cref="Variants"/> names it:
    /// "-wf16" / "-wbf16" and "-rf16" / "-rbf16" added where the type is not fp32 (e.g. "qkv-gemv-wbf16-rf16").
    /// </summary>
    /// <param name="kernel">The kernel's name in <see cref="All"/>.</param>
    /// <param name="weights">The weights' view type (<see cref="IElementView"/>), or null.</param>
    /// <param name="ring">The ring's view type, or null.</param>
    public static string VariantName(string kernel, Type? weights, Type? ring)
    {
        static string Of(Type? view, string prefix) =>
            view == typeof(Float16View) ? $"-{prefix}f16" : view == typeof(BFloat16View) ? $"-{prefix}bf16" : "";

        return kernel + Of(weights, "w") + Of(ring, "r");
    }

    /// <summary>
    /// The <see cref="Variants"/> name of kernel <paramref name="kernel"/> of <see cref="All"/> that a layer with
    /// weights stored as <paramref name="weights"/> and a ring stored as <paramref name="ring"/> launches (the name
    /// itself for a kernel that reads no stored element, and for fp32).
    /// </summary>
    /// <param name="kernel">The kernel's name in <see cref="All"/>.</param>
    /// <param name="weights">The layer's weight storage type.</param>
    /// <param name="ring">The layer's ring storage type.</param>
    public static string VariantOf(string kernel, SomaStorageType weights, SomaStorageType ring) => kernel switch
    {
        "qkv" or "qkv-gemv" => VariantName(kernel, ViewOf(weights), ViewOf(ring)),
        "qkv-reduce" or "attention" or "attention-decode" => VariantName(kernel, null, ViewOf(ring)),
        "linear" or "linear-gemv" => VariantName(kernel, ViewOf(weights), null),
        _ => kernel,
    };

    /// <summary>
    /// <paramref name="kernel"/> named after <paramref name="name"/> and the storage types of its generic arguments:
    /// argument <paramref name="weights"/> is the weights' view type, <paramref name="ring"/> the ring's (-1: none).
    /// </summary>
    private static Entry Variant(string name, Delegate kernel, int weights, int ring)
    {
        var views = kernel.Method.GetGenericArguments();
        Type? At(int index)
        {
            if (index < 0)
            {
                return null;
            }

            var view = views[index];
            return view.IsGenericType ? view.GetGenericArguments()[0] : view;
        }

        return new Entry(VariantName(name, At(weights), At(ring)), kernel);
    }

    /// <summary>The kernels' view type of <paramref name="type"/>.</summary>
    private static Type ViewOf(SomaStorageType type) => type switch
    {
        SomaStorageType.Float16 => typeof(Float16View),
        SomaStorageType.BFloat16 => typeof(BFloat16View),
        _ => typeof(Float32View),
    };

    /// <summary>One kernel: a short name (the .ptx file name) and its entry point.</summary>
    /// <param name="Name">Short, file-safe name.</param>
    /// <param name="Kernel">The explicitly grouped kernel method as a delegate.</param>
    public sealed record Entry(string Name, Delegate Kernel);
}
