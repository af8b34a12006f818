using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// Enqueues a planned pass of one layer: the kernels of its <see cref="LaunchPlan"/> in order, and, separately, its
/// commit. Decides nothing: every shape comes from the plan.
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
    /// Enqueues one pass on <paramref name="stream"/>: every kernel from x up to y. Writes scratch and y only; x and
    /// the pass's metadata (uploaded in <paramref name="io"/>'s block) must be on the device before the first kernel runs.
    /// </summary>
    /// <param name="ws">The layer's scratch (at least the pass's rows and segments).</param>
    /// <param name="io">The pass's upload block (its metadata).</param>
    /// <param name="x">The pass's input rows [rows, D] on the device.</param>
    /// <param name="y">The pass's output rows [rows, D] on the device (may be <paramref name="x"/> itself).</param>
    /// <param name="store">The sessions' state.</param>
    /// <param name="pass">Which rows of which sessions.</param>
    /// <param name="plan">The pass's launches (<see cref="PlanKey.Of"/> of <paramref name="pass"/>).</param>
    /// <param name="stream">The stream the pass runs on.</param>
    public void Launch(Workspace ws, PassIo io, ArrayView<float> x, ArrayView<float> y, StateStore store, PassPlan pass, LaunchPlan plan, AcceleratorStream stream)
    {
        var k = engine.Kernels;
        int n = pass.Tokens;
        int dh = o.HeadDim;
        int channels = o.KvHeads * dh;
        counters.AddPass(plan.Cost);
        var seg = io.SegmentArgsFor(pass.Slots.Length);

        layer.OnStage(Stage.Rope);
        if (plan.RopeTable)
        {
            var rope = new RopeTableArgs
            {
                Positions = io.Positions, InverseFrequencies = weights.InverseFrequencies.View, Cos = ws.Cos!.View, Sin = ws.Sin!.View, Tokens = n, Half = dh / 2,
            };
            k.RopeTable.Launch(stream, plan.RopeConfig, rope);
        }

        layer.OnStage(Stage.Qkv);
        stored.Qkv(stream, plan, x, ws, io, store, n);

        layer.OnStage(Stage.Scan);
        if (plan.FieldScan)
        {
            var scan = new FieldScanArgs
            {
                Segments = seg, Field = store.Field.View, Gamma = weights.Gamma.View, KRaw = ws.KRaw.View, Prev = ws.FieldPrev.View,
                Final = ws.FieldFinal.View, Channels = channels, HeadDim = dh,
            };
            k.FieldScan.Launch(stream, plan.ScanConfig, scan);
        }

        layer.OnStage(Stage.Attention);
        stored.Attention(stream, plan, io, ws, store, seg, n);

        layer.OnStage(Stage.Output);
        stored.Output(stream, plan, y, ws, n);

        Log.PassPlanned(
            engine.LayerLogger, n, pass.Slots.Length, plan.QkvTiling.ChunkK, plan.QkvTiling.KSlices, plan.OutTiling.ChunkK, plan.OutTiling.KSlices,
            plan.AttentionSplits);
    }

    /// <summary>
    /// Enqueues the commit of one pass: ring entries and field into the sessions' slots (the only state write), each
    /// overwritten element saved first by the same launch; the save holds the pass once the launch is enqueued.
    /// </summary>
    /// <param name="ws">The scratch the pass's kernels wrote (rotated keys, values, field after each segment).</param>
    /// <param name="io">The pass's upload block (its metadata).</param>
    /// <param name="store">The sessions' state.</param>
    /// <param name="pass">Which rows of which sessions.</param>
    /// <param name="plan">The pass's launches.</param>
    /// <param name="stream">The stream the pass ran on.</param>
    /// <param name="save">The call's save area: the commit saves there what it overwrites (<see cref="CommitSave"/>).</param>
    public void Commit(Workspace ws, PassIo io, StateStore store, PassPlan pass, LaunchPlan plan, AcceleratorStream stream, CommitSave save)
    {
        layer.OnStage(Stage.Commit);
        counters.AddCommit(plan.Cost);
        int channels = o.KvHeads * o.HeadDim;
        var commit = new CommitArgs
        {
            Segments = io.SegmentArgsFor(pass.Slots.Length), KRotated = ws.KRotated.View, V = ws.V.View, Final = ws.FieldFinal.View,
            RingK = store.RingK.View, RingV = store.RingV.View, Field = store.Field.View, Channels = channels, Units = store.Units, Window = ringWindow,
            RowsPerSegment = plan.Key.CommitRows, WriteField = plan.Field ? 1 : 0,
        };
        engine.Kernels.Commit.Launch(stream, plan.CommitConfig, save.Bind(commit, pass));
        save.Committed(pass);
        layer.OnStage(Stage.Committed);
    }
}
