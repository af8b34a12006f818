using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// Enqueues a planned pass of one layer: its segment metadata, then the kernels of its <see cref="LaunchPlan"/> in
/// order, and, separately, its commit. Decides nothing: every shape comes from the plan.
/// </summary>
internal sealed class PassLauncher
{
    private readonly SomaLayer layer;
    private readonly SomaEngine engine;
    private readonly SomaLayerOptions o;
    private readonly LayerWeights weights;
    private readonly int ringWindow;
    private readonly int headsPerGroup;
    private readonly CallCounters counters;

    /// <summary>A launcher for <paramref name="layer"/>'s passes.</summary>
    /// <param name="layer">The layer (its options, engine and fault-injection hook).</param>
    /// <param name="weights">The layer's device weights.</param>
    /// <param name="ringWindow">Ring slots per session.</param>
    /// <param name="headsPerGroup">Query heads per attention group.</param>
    /// <param name="counters">The counters of the call in progress, added to at every pass and commit.</param>
    public PassLauncher(SomaLayer layer, LayerWeights weights, int ringWindow, int headsPerGroup, CallCounters counters)
    {
        this.counters = counters;
        this.layer = layer;
        engine = layer.Engine;
        o = layer.Options;
        this.weights = weights;
        this.ringWindow = ringWindow;
        this.headsPerGroup = headsPerGroup;
    }

    /// <summary>
    /// Enqueues one pass on <paramref name="stream"/>: its metadata upload and every kernel up to y in
    /// <see cref="PassIo.Y"/>. Writes scratch only; x must be in <see cref="PassIo.X"/> before the first kernel runs.
    /// </summary>
    /// <param name="ws">The layer's scratch (at least the pass's rows and segments).</param>
    /// <param name="io">The pass's input and output rows.</param>
    /// <param name="store">The sessions' state.</param>
    /// <param name="pass">Which rows of which sessions.</param>
    /// <param name="plan">The pass's launches (<see cref="PlanKey.Of"/> of <paramref name="pass"/>).</param>
    /// <param name="stream">The stream the pass runs on.</param>
    public void Launch(Workspace ws, PassIo io, StateStore store, PassPlan pass, LaunchPlan plan, AcceleratorStream stream)
    {
        var k = engine.Kernels;
        int n = pass.Tokens;
        int dh = o.HeadDim;
        int channels = o.KvHeads * dh;
        ws.UploadMetadata(stream, pass);
        counters.AddPass(plan.Cost);
        var seg = ws.SegmentArgsFor(pass.Slots.Length);

        layer.OnStage(Stage.Rope);
        if (plan.Rope)
        {
            k.RopeTable(stream, plan.RopeConfig, ws.Positions, weights.InverseFrequencies.View, ws.Cos.View, ws.Sin.View, n, dh / 2);
        }

        layer.OnStage(Stage.Qkv);
        var qkv = new QkvProjectionArgs
        {
            X = io.X.View,
            WeightT = weights.QkvT.View.Cast<float>(),
            Bias = weights.QkvBias.View,
            Cos = ws.Cos.View,
            Sin = ws.Sin.View,
            Q = ws.Q.View,
            KRotated = ws.KRotated.View.Cast<float>(),
            KRaw = ws.KRaw.View,
            V = ws.V.View.Cast<float>(),
            Tokens = n,
            ModelDim = o.ModelDim,
            Heads = o.Heads,
            KvHeads = o.KvHeads,
            HeadDim = dh,
            Rope = plan.Rope ? 1 : 0,
            Tiling = plan.QkvTiling,
            Partial = plan.QkvPartial > 0 ? ws.EnsureProjectionPartial(engine, plan.QkvPartial) : default,
        };
        k.Qkv(stream, plan.QkvConfig, qkv);
        if (plan.QkvPartial > 0)
        {
            k.QkvReduce(stream, plan.QkvReduceConfig, qkv);
        }

        layer.OnStage(Stage.Scan);
        if (plan.Scan)
        {
            k.FieldScan(
                stream, plan.ScanConfig, seg, store.Field.View, weights.Gamma.View, ws.KRaw.View, ws.FieldPrev.View, ws.FieldFinal.View, channels, dh);
        }

        layer.OnStage(Stage.Attention);
        if (plan.AttentionPartials > 0)
        {
            ws.EnsurePartials(engine, plan.AttentionPartials, dh);
        }

        var shapes = engine.Shapes;
        var attention = new AttentionArgs
        {
            Q = ws.Q.View,
            K = ws.KRotated.View.Cast<float>(),
            V = ws.V.View.Cast<float>(),
            RingK = store.RingK.View.Cast<float>(),
            RingV = store.RingV.View.Cast<float>(),
            FieldPrev = ws.FieldPrev.View,
            Alpha = weights.Alpha.View,
            Output = ws.O.View,
            RowSegment = ws.RowSegment,
            Tokens = n,
            Heads = o.Heads,
            KvHeads = o.KvHeads,
            HeadDim = dh,
            Window = ringWindow,
            FarField = plan.Scan ? 1 : 0,
            IncludeCurrent = o.IncludeCurrent ? 1 : 0,
            TileKeys = shapes.TileKeys,
            HeadsPerGroup = headsPerGroup,
            Scale = (float)o.Scale,
            StageTiles = shapes.StageAttentionTiles ? 1 : 0,
            Splits = plan.AttentionSplits,
            PartialMax = ws.PartialMax?.View ?? default,
            PartialSum = ws.PartialSum?.View ?? default,
            PartialAcc = ws.PartialAcc?.View ?? default,
        };
        k.Attention(stream, plan.AttentionConfig, attention, seg);
        if (plan.AttentionSplits > 1)
        {
            k.AttentionCombine(stream, plan.CombineConfig, attention);
        }

        layer.OnStage(Stage.Output);
        var output = new LinearArgs
        {
            X = ws.O.View,
            WeightT = weights.OutT.View.Cast<float>(),
            Bias = weights.OutBias.View,
            Y = io.Y.View,
            Rows = n,
            Inner = o.Heads * dh,
            Outer = o.ModelDim,
            Tiling = plan.OutTiling,
            Partial = plan.OutPartial > 0 ? ws.EnsureProjectionPartial(engine, plan.OutPartial) : default,
        };
        k.Linear(stream, plan.OutConfig, output);
        if (plan.OutPartial > 0)
        {
            k.LinearReduce(stream, plan.OutReduceConfig, output);
        }

        Log.PassPlanned(
            engine.LayerLogger, n, pass.Slots.Length, plan.QkvTiling.ChunkK, plan.QkvTiling.KSlices, plan.OutTiling.ChunkK, plan.OutTiling.KSlices,
            plan.AttentionSplits);
    }

    /// <summary>Enqueues the commit of one pass: ring entries and field into the sessions' slots (the only state write).</summary>
    /// <param name="ws">The scratch the pass's kernels wrote (rotated keys, values, field after each segment).</param>
    /// <param name="store">The sessions' state.</param>
    /// <param name="pass">Which rows of which sessions.</param>
    /// <param name="plan">The pass's launches.</param>
    /// <param name="stream">The stream the pass ran on.</param>
    public void Commit(Workspace ws, StateStore store, PassPlan pass, LaunchPlan plan, AcceleratorStream stream)
    {
        layer.OnStage(Stage.Commit);
        counters.AddCommit(plan.Cost);
        int channels = o.KvHeads * o.HeadDim;
        engine.Kernels.Commit(
            stream, plan.CommitConfig, ws.SegmentArgsFor(pass.Slots.Length), ws.KRotated.View.Cast<float>(), ws.V.View.Cast<float>(), ws.FieldFinal.View, store.RingK.View.Cast<float>(),
            store.RingV.View.Cast<float>(), store.Field.View, channels, ringWindow, plan.Key.CommitRows, plan.Scan ? 1 : 0);
    }
}
