using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// The launches of a pass that read or write stored elements, for one layer's storage types: the QKV projection
/// (weights read as <typeparamref name="TWeights"/>, rotated k and v written as <typeparamref name="TRing"/>), the
/// attention (keys and values read as <typeparamref name="TRing"/>) and the output projection. Made once per layer
/// (<see cref="StoredLaunches.For"/>), which also loads the kernel variants, so a layer's view types are fixed when it
/// is created.
/// </summary>
/// <typeparam name="TWeights">How the layer stores its weights.</typeparam>
/// <typeparam name="TRing">How the layer stores its ring.</typeparam>
internal sealed class StoredLaunches<TWeights, TRing> : StoredLaunches
    where TWeights : struct, IElementView
    where TRing : struct, IElementView
{
    private readonly SomaEngine engine;
    private readonly SomaLayerOptions o;
    private readonly LayerWeights weights;
    private readonly int ringWindow;
    private readonly StorageKernels<TWeights, TRing> kernels;

    /// <summary>Launches for a layer of options <paramref name="o"/> with device weights <paramref name="weights"/>.</summary>
    /// <param name="engine">The layer's engine.</param>
    /// <param name="o">The layer's options.</param>
    /// <param name="weights">The layer's device weights.</param>
    /// <param name="ringWindow">Ring slots per session.</param>
    public StoredLaunches(SomaEngine engine, SomaLayerOptions o, LayerWeights weights, int ringWindow)
    {
        this.engine = engine;
        this.o = o;
        this.weights = weights;
        this.ringWindow = ringWindow;
        kernels = engine.Kernels.For<TWeights, TRing>();
    }

    /// <inheritdoc/>
    public override void Qkv(AcceleratorStream stream, LaunchPlan plan, ArrayView<float> x, Workspace ws, PassIo io, StateStore store, int n)
    {
        bool decode = plan.Key.Decode;
        var qkv = new BiasRopeEpilogue<TRing>
        {
            Bias = weights.QkvBias.View,
            Cos = ws.Cos?.View ?? default,
            Sin = ws.Sin?.View ?? default,
            Positions = io.Positions,
            InverseFrequencies = weights.InverseFrequencies.View,
            RowSegment = io.RowSegment,
            Slot = io.SegmentArgsFor(plan.Key.Segments).Slot,
            Field = store.Field.View,
            Gamma = weights.Gamma.View,
            FieldPrev = ws.FieldPrev.View,
            FieldFinal = ws.FieldFinal.View,
            Q = ws.Q.View,
            KRotated = ElementViews.Of<TRing>(ws.KRotated.View),
            KRaw = ws.KRaw.View,
            V = ElementViews.Of<TRing>(ws.V.View),
            Heads = o.Heads,
            KvHeads = o.KvHeads,
            HeadDim = o.HeadDim,
            Rope = plan.Rope ? 1 : 0,
            Angles = plan.Rope && !plan.RopeTable ? 1 : 0,
            FieldStep = plan.Field && decode ? 1 : 0,
        };
        var operands = new ProjectionArgs
        {
            X = x,
            Rows = n,
            Inner = o.ModelDim,
            Outer = qkv.Columns,
            Partial = plan.Qkv.IsSplit ? ws.EnsureProjectionPartial(engine, plan.Qkv.PartialFloats) : default,
        };
        kernels.Qkv.Launch(stream, plan.Qkv, operands, ElementViews.Of<TWeights>(weights.Qkv.View), qkv);
    }

    /// <inheritdoc/>
    public override void Attention(AcceleratorStream stream, LaunchPlan plan, PassIo io, Workspace ws, StateStore store, SegmentArgs seg, int n)
    {
        int dh = o.HeadDim;
        if (plan.Attention.IsSplit)
        {
            ws.EnsurePartials(engine, plan.Attention.Partials, dh);
        }

        var attention = new AttentionArgs
        {
            Q = ws.Q.View,
            FieldPrev = ws.FieldPrev.View,
            Alpha = weights.Alpha.View,
            Output = ws.O.View,
            RowSegment = io.RowSegment,
            Tokens = n,
            Heads = o.Heads,
            KvHeads = o.KvHeads,
            HeadDim = dh,
            Window = ringWindow,
            FarField = plan.Field ? 1 : 0,
            IncludeCurrent = o.IncludeCurrent ? 1 : 0,
            Scale = (float)o.Scale,
            PartialMax = ws.PartialMax?.View ?? default,
            PartialSum = ws.PartialSum?.View ?? default,
            PartialAcc = ws.PartialAcc?.View ?? default,
            Arrivals = plan.Attention.SplitKv && plan.Attention.IsSplit ? ws.EnsureArrivals(engine, (long)n * o.KvHeads, stream) : default,
        };
        var keyValues = new StoredKeyValues<TRing>
        {
            K = ElementViews.Of<TRing>(ws.KRotated.View),
            V = ElementViews.Of<TRing>(ws.V.View),
            RingK = ElementViews.Of<TRing>(store.RingK.View),
            RingV = ElementViews.Of<TRing>(store.RingV.View),
        };
        kernels.Attention.Launch(stream, plan.Attention, attention, seg, keyValues);
    }

    /// <inheritdoc/>
    public override void Output(AcceleratorStream stream, LaunchPlan plan, ArrayView<float> y, Workspace ws, int n)
    {
        var output = new ProjectionArgs
        {
            X = ws.O.View,
            Rows = n,
            Inner = o.Heads * o.HeadDim,
            Outer = o.ModelDim,
            Partial = plan.Output.IsSplit ? ws.EnsureProjectionPartial(engine, plan.Output.PartialFloats) : default,
        };
        kernels.Linear.Launch(
            stream, plan.Output, output, ElementViews.Of<TWeights>(weights.Out.View),
            new BiasEpilogue { Bias = weights.OutBias.View, Y = y, Outer = o.ModelDim });
    }
}

/// <summary>The launches of a pass that touch stored elements, made for a layer's storage types (<see cref="For"/>).</summary>
internal abstract class StoredLaunches
{
    /// <summary>
    /// The launches for the layer's weights (<see cref="LayerWeights.WeightType"/>) and ring
    /// (<see cref="SomaLayerOptions.RingStorage"/>); loads their kernel variants if the engine has not yet.
    /// </summary>
    /// <param name="engine">The layer's engine.</param>
    /// <param name="o">The layer's options.</param>
    /// <param name="weights">The layer's device weights.</param>
    /// <param name="ringWindow">Ring slots per session.</param>
    public static StoredLaunches For(SomaEngine engine, SomaLayerOptions o, LayerWeights weights, int ringWindow)
    {
        var make = new Make { Engine = engine, Options = o, Weights = weights, RingWindow = ringWindow };
        ElementViews.Dispatch(weights.WeightType, ref make);
        return make.Result!;
    }

    /// <summary>
    /// The QKV projection (and its split-K reduce) of a pass of <paramref name="n"/> rows; in a decode pass its epilogue
    /// also computes the RoPE angles and takes the field's step (reading the sessions' field, writing scratch only).
    /// </summary>
    /// <param name="stream">The pass's stream.</param>
    /// <param name="plan">The pass's plan.</param>
    /// <param name="x">The pass's input rows [rows, D] on the device.</param>
    /// <param name="ws">The layer's scratch.</param>
    /// <param name="io">The pass's upload block (its rows' positions and segments, the segments' slots).</param>
    /// <param name="store">The sessions' state (the field, read).</param>
    /// <param name="n">Rows of the pass.</param>
    public abstract void Qkv(AcceleratorStream stream, LaunchPlan plan, ArrayView<float> x, Workspace ws, PassIo io, StateStore store, int n);

    /// <summary>The near-field attention (and its combine) of a pass of <paramref name="n"/> rows.</summary>
    /// <param name="stream">The pass's stream.</param>
    /// <param name="plan">The pass's plan.</param>
    /// <param name="io">The pass's upload block (its rows' segments).</param>
    /// <param name="ws">The layer's scratch.</param>
    /// <param name="store">The sessions' state.</param>
    /// <param name="seg">The pass's segments.</param>
    /// <param name="n">Rows of the pass.</param>
    public abstract void Attention(AcceleratorStream stream, LaunchPlan plan, PassIo io, Workspace ws, StateStore store, SegmentArgs seg, int n);

    /// <summary>The output projection (and its split-K reduce) of a pass of <paramref name="n"/> rows.</summary>
    /// <param name="stream">The pass's stream.</param>
    /// <param name="plan">The pass's plan.</param>
    /// <param name="y">The pass's output rows [rows, D] on the device.</param>
    /// <param name="ws">The layer's scratch.</param>
    /// <param name="n">Rows of the pass.</param>
    public abstract void Output(AcceleratorStream stream, LaunchPlan plan, ArrayView<float> y, Workspace ws, int n);

    /// <summary>Picks the weights' view type, then (<see cref="WithWeights{TWeights}"/>) the ring's.</summary>
    private struct Make : ElementViews.IAction
    {
        public SomaEngine Engine;
        public SomaLayerOptions Options;
        public LayerWeights Weights;
        public int RingWindow;
        public StoredLaunches? Result;

        public void Run<TView>()
            where TView : struct, IElementView
        {
            var ring = new WithWeights<TView> { Outer = this };
            ElementViews.Dispatch(Options.RingStorage, ref ring);
            Result = ring.Outer.Result;
        }
    }

    /// <summary>Makes the launches once both view types are known.</summary>
    private struct WithWeights<TWeights> : ElementViews.IAction
        where TWeights : struct, IElementView
    {
        public Make Outer;

        public void Run<TView>()
            where TView : struct, IElementView =>
            Outer.Result = new StoredLaunches<TWeights, TView>(Outer.Engine, Outer.Options, Outer.Weights, Outer.RingWindow);
    }
}
