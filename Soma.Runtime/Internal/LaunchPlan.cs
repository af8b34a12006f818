using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// Everything decided about one device pass of a layer before anything is enqueued: each kernel's grid, group size
/// and dynamic shared memory, the projections' tilings and split-K, the attention's key splits and the scratch the
/// splits need. Built once per <see cref="PlanKey"/> (<see cref="PlanCache"/>); running it is a straight list of
/// launches (<see cref="PassLauncher"/>). A decode step's plan never changes once the ring is full.
/// </summary>
internal sealed class LaunchPlan
{
    private LaunchPlan(PlanKey key)
    {
        Key = key;
    }

    /// <summary>The pass shape this plan is for.</summary>
    public PlanKey Key { get; }

    /// <summary>Whether the pass rotates q and k (the layer has RoPE).</summary>
    public bool Rope { get; private init; }

    /// <summary>
    /// Whether the pass launches the RoPE table (a rotating prefill pass); a decode pass's QKV epilogue computes its
    /// angles itself (<see cref="PlanKey.Decode"/>).
    /// </summary>
    public bool RopeTable { get; private init; }

    /// <summary>Launch of the RoPE table over tokens x dh/2 angles (used only when <see cref="RopeTable"/>).</summary>
    public KernelConfig RopeConfig { get; private init; }

    /// <summary>The fused QKV projection: tile loop, tiling and (when split) reduce and partial sums.</summary>
    public ProjectionLaunch Qkv { get; private init; }

    /// <summary>Launch of the fused QKV projection (<see cref="Qkv"/>'s).</summary>
    public KernelConfig QkvConfig => Qkv.Config;

    /// <summary>Tiling of the fused QKV projection (split-K when <see cref="ProjectionTiling.KSlices"/> &gt; 1).</summary>
    public ProjectionTiling QkvTiling => Qkv.Tiling;

    /// <summary>Launch of the QKV split-K reduction (used only when split).</summary>
    public KernelConfig QkvReduceConfig => Qkv.ReduceConfig;

    /// <summary>Floats of split-K partial sums the QKV projection needs (0 when not split).</summary>
    public long QkvPartial => Qkv.PartialFloats;

    /// <summary>Whether the pass has the far field: attention adds it and the commit writes it (false for the standard-attention baseline).</summary>
    public bool Field { get; private init; }

    /// <summary>
    /// Whether the pass launches the field scan (a prefill pass with the far field); a decode pass's QKV epilogue takes
    /// the field's step itself (<see cref="PlanKey.Decode"/>).
    /// </summary>
    public bool FieldScan { get; private init; }

    /// <summary>Launch of the field scan over segments x channels, with its fp64 shared memory (used only when <see cref="FieldScan"/>).</summary>
    public KernelConfig ScanConfig { get; private init; }

    /// <summary>
    /// Attention: launch, tiling (heads per group, key splits) and (when split) combine and partial states; decode passes
    /// (one row per segment) take the split-KV decode kernel (<see cref="AttentionLaunch.SplitKv"/>, no combine launch).
    /// </summary>
    public AttentionLaunch Attention { get; private init; }

    /// <summary>Key splits per (row, head) of the attention launch (1: no split, no combine).</summary>
    public int AttentionSplits => Attention.Tiling.Splits;

    /// <summary>Launch of near-field attention, with the shared memory its tiles take.</summary>
    public KernelConfig AttentionConfig => Attention.Config;

    /// <summary>Query heads each attention group serves (<see cref="LaunchShapes.AttentionHeadsPerGroup"/>).</summary>
    public int HeadsPerGroup => Attention.Tiling.HeadsPerGroup;

    /// <summary>Launch of the split combine (used only when split).</summary>
    public KernelConfig CombineConfig => Attention.CombineConfig;

    /// <summary>(row, head, split) partial states the split attention needs (0 when not split).</summary>
    public long AttentionPartials => Attention.Partials;

    /// <summary>The output projection: tile loop, tiling and (when split) reduce and partial sums.</summary>
    public ProjectionLaunch Output { get; private init; }

    /// <summary>Launch of the output projection (<see cref="Output"/>'s).</summary>
    public KernelConfig OutConfig => Output.Config;

    /// <summary>Tiling of the output projection.</summary>
    public ProjectionTiling OutTiling => Output.Tiling;

    /// <summary>Launch of the output split-K reduction (used only when split).</summary>
    public KernelConfig OutReduceConfig => Output.ReduceConfig;

    /// <summary>Floats of split-K partial sums the output projection needs (0 when not split).</summary>
    public long OutPartial => Output.PartialFloats;

    /// <summary>Launch of the commit over segments x commit rows x channels.</summary>
    public KernelConfig CommitConfig { get; private init; }

    /// <summary>What the pass's launches cost: launches by kernel, device bytes, FLOPs (<see cref="PassCost"/>).</summary>
    public PassCost Cost { get; private set; } = null!;

    /// <summary>
    /// The plan of a pass of shape <paramref name="key"/> for a layer of options <paramref name="o"/> on the device
    /// <paramref name="device"/> describes, without an accelerator: the same code a live engine runs
    /// (<see cref="LaunchShapes"/> from the description, then <see cref="Create"/>), so a plan for a GPU that is not
    /// here is the plan a live engine on that GPU builds.
    /// </summary>
    /// <param name="device">The device (a live one's <see cref="DeviceDescription.Of"/>, or a built-in description).</param>
    /// <param name="o">The layer's options.</param>
    /// <param name="key">The pass shape (<see cref="PlanKey.Of"/>).</param>
    /// <param name="standard">True for the standard-attention baseline (no field scan).</param>
    /// <param name="tuning">Overrides, as <see cref="SomaEngineOptions.Tuning"/> would fix them; null for the device's defaults.</param>
    /// <param name="occupancy">The kernels' occupancy (a live engine's <see cref="SomaEngine.Occupancy"/>); null for the limits <paramref name="device"/> states.</param>
    public static LaunchPlan For(
        DeviceDescription device, SomaLayerOptions o, PlanKey key, bool standard = false, LaunchTuning? tuning = null, IOccupancy? occupancy = null)
    {
        ArgumentNullException.ThrowIfNull(o);
        var shapes = new LaunchShapes(device, tuning, occupancy).ForStorage(o.WeightStorage ?? SomaStorageType.Float32, o.RingStorage);
        return Create(shapes, o, standard, shapes.AttentionHeadsPerGroup(o.HeadsPerKvHead, o.HeadDim), key);
    }

    /// <summary>Decides every launch of a pass of shape <paramref name="key"/> for a layer.</summary>
    /// <param name="shapes">The engine's launch shapes (fixed for the engine's lifetime), for the layer's storage types (<see cref="LaunchShapes.ForStorage"/>).</param>
    /// <param name="o">The layer's options.</param>
    /// <param name="standard">True for the standard-attention baseline (no field scan).</param>
    /// <param name="headsPerGroup">Query heads per attention group (<see cref="LaunchShapes.AttentionHeadsPerGroup"/>).</param>
    /// <param name="key">The pass shape.</param>
    public static LaunchPlan Create(LaunchShapes shapes, SomaLayerOptions o, bool standard, int headsPerGroup, PlanKey key)
    {
        int n = key.Tokens;
        int dh = o.HeadDim;
        int channels = o.KvHeads * dh;
        int m = (o.Heads + 2 * o.KvHeads) * dh;
        int q = o.Heads * dh;
        var plan = new LaunchPlan(key)
        {
            Rope = o.RopeTheta is not null,
            RopeTable = o.RopeTheta is not null && !key.Decode,
            RopeConfig = shapes.Elements("rope-table", (long)n * (dh / 2)),
            Qkv = shapes.Projection("qkv", n, o.ModelDim, m),
            Field = !standard,
            FieldScan = !standard && !key.Decode,
            ScanConfig = shapes.GroupsWithDoubles("field-scan", (long)key.Segments * channels, Kernels.FieldScan.SharedDoubles(shapes.GroupSize)),
            Attention = shapes.Attention(n, o.Heads, o.KvHeads, dh, headsPerGroup, key.MaxKeys, decode: key.Decode),
            Output = shapes.Projection("linear", n, q, o.ModelDim),
            CommitConfig = shapes.Elements("commit", (long)key.Segments * key.CommitRows * channels),
        };
        plan.Cost = PassCost.Of(plan, o);
        return plan;
    }
}
