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
    private readonly StoredLaunches stored;

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
        stored = StoredLaunches.For(engine, o, weights, ringWindow);
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
            var rope = new RopeTableArgs
            {
                Positions = ws.Positions, InverseFrequencies = weights.InverseFrequencies.View, Cos = ws.Cos.View, Sin = ws.Sin.View, Tokens = n, Half = dh / 2,
            };
            k.RopeTable.Launch(stream, plan.RopeConfig, rope);
        }

        layer.OnStage(Stage.Qkv);
        stored.Qkv(stream, plan, io, ws, n);

        layer.OnStage(Stage.Scan);
        if (plan.Scan)
        {
            var scan = new FieldScanArgs
            {
                Segments = seg, Field = store.Field.View, Gamma = weights.Gamma.View, KRaw = ws.KRaw.View, Prev = ws.FieldPrev.View,
                Final = ws.FieldFinal.View, Channels = channels, HeadDim = dh,
            };
            k.FieldScan.Launch(stream, plan.ScanConfig, scan);
        }

        layer.OnStage(Stage.Attention);
        stored.Attention(stream, plan, ws, store, seg, n);

        layer.OnStage(Stage.Output);
        stored.Output(stream, plan, io, ws, n);

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
        var commit = new CommitArgs
        {
            Segments = ws.SegmentArgsFor(pass.Slots.Length), KRotated = ws.KRotated.View, V = ws.V.View, Final = ws.FieldFinal.View,
            RingK = store.RingK.View, RingV = store.RingV.View, Field = store.Field.View, Channels = channels, Units = store.Units, Window = ringWindow,
            RowsPerSegment = plan.Key.CommitRows, WriteField = plan.Scan ? 1 : 0,
        };
        engine.Kernels.Commit.Launch(stream, plan.CommitConfig, commit);
    }
}
