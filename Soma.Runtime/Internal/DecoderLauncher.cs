using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// Every device launch of a whole decoder outside its attention layers, on its own stream, which is the stream of the
/// whole call (<see cref="LayerCall"/> runs the layers on it): the ids' upload, embedding lookup and first norm
/// (<see cref="Begin"/>), then between attention layers (<see cref="After"/>) the residual adds, norms and SwiGLU MLP,
/// and after the last layer the final norm, the LM head over the wanted rows, an on-device argmax and the result's
/// download. Nothing here waits: the call waits once, at its end, and then reads <see cref="Logits"/> or
/// <see cref="Best"/>. The projections are the layers' projection kernels (tile loop, or the decode GEMV where the plan
/// takes it) with their own epilogues: gate|up as one projection writing silu(gate) * up (<see cref="SwiGluEpilogue"/>),
/// down adding into the residual stream (<see cref="ResidualEpilogue"/>), the LM head plain (<see cref="BiasEpilogue"/>,
/// zero bias), all through <see cref="Project{TW, TEpilogue}"/>, the weights read as they are stored
/// (<see cref="DecoderWeights.Type"/>: fp32, or 16-bit widened in the kernels). One call at a time (the model's lock); owns its scratch and stream.
/// </summary>
internal sealed class DecoderLauncher : IBetweenLayers, IDisposable
{
    private readonly SomaEngine engine;
    private readonly DecoderWeights weights;
    private readonly AcceleratorStream stream;
    private readonly int d;
    private readonly int v;
    private readonly int inter;
    private readonly int layers;
    private readonly float eps;
    private DecoderScratch? scratch;
    private int rows;
    private int picked;
    private bool greedy;
    private DeviceDraw? draw;
    private int topK;
    private DeviceBuffer<float>? topValues;
    private DeviceBuffer<int>? topIndex;
    private PageLockedArray1D<float>? hostTopValues;
    private PageLockedArray1D<int>? hostTopIndex;

    // The decoder's projection launches by (kernel, rows): planned once per shape, as a layer's PlanCache does, so a
    // decode step neither re-plans nor asks the device's occupancy calculator again.
    private readonly Dictionary<(string Kernel, int Rows), ProjectionLaunch> launches = new();

    public DecoderLauncher(SomaEngine engine, CausalLMWeights model, DecoderWeights weights)
    {
        this.engine = engine;
        this.weights = weights;
        (d, v, inter, layers, eps) = (model.ModelDim, model.VocabSize, model.Config.IntermediateSize, model.Layers.Count, (float)model.Config.RmsNormEps);
        stream = engine.Accelerator.CreateStream();
    }

    /// <summary>The stream of the decoder's calls: its own launches and, through <see cref="LayerCall"/>, the layers'.</summary>
    public AcceleratorStream Stream => stream;

    /// <summary>The last call's logits [picked, V] (when not greedy; valid once the call has waited).</summary>
    public ReadOnlySpan<float> Logits => scratch!.HostLogits.Span[..(picked * v)];

    /// <summary>The last call's top-k logits per picked row, largest first (when it asked for them; valid once the call has waited).</summary>
    public ReadOnlySpan<float> TopValues => hostTopValues!.Span[..(picked * topK)];

    /// <summary>The token ids of <see cref="TopValues"/>.</summary>
    public ReadOnlySpan<int> TopIndices => hostTopIndex!.Span[..(picked * topK)];

    /// <summary>Bytes the last call downloaded as its result (the logits, or one int per picked row).</summary>
    public long DownloadBytes { get; private set; }

    /// <summary>The last call's argmax per picked row (when greedy; valid once the call has waited).</summary>
    public ReadOnlySpan<int> Best => scratch!.HostBest.Span[..picked];

    /// <summary>
    /// Starts a call: enqueues the upload of <paramref name="tokens"/> and <paramref name="pick"/> (one page-locked
    /// block), the gather of their embeddings into h and the first layer's input RMSNorm(h). Returns the layers' rows:
    /// x, the normed rows every layer reads, and y, the attention rows every layer writes ([rows, D] each, decoder
    /// scratch). <paramref name="pick"/> names the rows whose logits the call returns; <paramref name="argmax"/>
    /// returns their argmax instead of the logits, or with <paramref name="sample"/> a draw from their softmax made on
    /// the device (<see cref="DeviceDraw"/>); <paramref name="top"/> &gt; 0 returns their <paramref name="top"/>
    /// largest logits and indices (<see cref="TopValues"/>, <see cref="TopIndices"/>) instead.
    /// </summary>
    public (ArrayView<float> X, ArrayView<float> Y) Begin(ReadOnlySpan<int> tokens, ReadOnlySpan<int> pick, bool argmax, DeviceDraw? sample = null, int top = 0)
    {
        (rows, picked, greedy, draw, topK) = (tokens.Length, pick.Length, argmax, sample, top);
        var s = Ensure(rows, picked);
        if (top > 0 && (topValues is null || topValues.Length < (long)picked * top))
        {
            stream.Synchronize(); // a failed call may have left launches that write the old buffers
            DisposeTop();
            topValues = engine.Allocate<float>((long)picked * top);
            topIndex = engine.Allocate<int>((long)picked * top);
            hostTopValues = engine.Accelerator.AllocatePageLocked1D<float>((long)picked * top, uninitialized: false);
            hostTopIndex = engine.Accelerator.AllocatePageLocked1D<int>((long)picked * top, uninitialized: false);
        }

        var k = engine.Kernels.Decoder;
        tokens.CopyTo(s.HostIds.Span);
        pick.CopyTo(s.HostIds.Span[rows..]);
        s.Ids.UploadAsync(stream, s.HostIds, rows + picked);
        switch (weights.Type)
        {
            case SomaStorageType.Float16:
                Embed<Float16View>(s);
                break;
            case SomaStorageType.BFloat16:
                Embed<BFloat16View>(s);
                break;
            default:
                Embed<Float32View>(s);
                break;
        }

        Norm(s, weights.Layers[0].InputNorm);
        long count = (long)rows * d;
        return (s.X.View.SubView(0, count), s.A.View.SubView(0, count));
    }

    /// <inheritdoc />
    public void After(int layer, AcceleratorStream callStream)
    {
        System.Diagnostics.Debug.Assert(ReferenceEquals(callStream, stream), "A decoder's calls run on its own stream.");
        var s = scratch!;
        var k = engine.Kernels.Decoder;
        int count = rows * d;
        k.ResidualAdd(stream, engine.Shapes.Elements("residual-add", count), s.H.View, s.A.View, count);
        Norm(s, weights.Layers[layer].PostNorm);
        bool last = layer + 1 == layers;
        switch (weights.Type)
        {
            case SomaStorageType.Float16:
                Weighted<Float16View>(s, layer, last);
                break;
            case SomaStorageType.BFloat16:
                Weighted<BFloat16View>(s, layer, last);
                break;
            default:
                Weighted<Float32View>(s, layer, last);
                break;
        }

        if (!last)
        {
            return;
        }

        if (topK > 0)
        {
            k.TopK(stream, engine.Shapes.Groups("top-k", picked, 2 * engine.Shapes.GroupSize + 2), s.Logits.View, topValues!.View, topIndex!.View, picked, v, topK);
            topValues.DownloadAsync(stream, hostTopValues!, (long)picked * topK);
            topIndex!.DownloadAsync(stream, hostTopIndex!, (long)picked * topK);
            DownloadBytes = (long)picked * topK * (sizeof(float) + sizeof(int));
        }
        else if (greedy)
        {
            var (scale, seed, step) = draw is { } g ? (g.InverseTemperature, g.Seed, g.Step) : (1f, 0L, 0L);
            k.Argmax(stream, engine.Shapes.Groups("argmax", picked, 2 * engine.Shapes.GroupSize), s.Logits.View, s.Best.View, picked, v, scale, seed, step, draw is null ? 0 : 1);
            s.Best.DownloadAsync(stream, s.HostBest, picked);
            DownloadBytes = picked * sizeof(int);
        }
        else
        {
            s.Logits.DownloadAsync(stream, s.HostLogits, (long)picked * v);
            DownloadBytes = (long)picked * v * sizeof(float);
        }
    }

    /// <summary>Frees the scratch and the stream. Never throws.</summary>
    public void Dispose()
    {
        scratch?.Dispose();
        scratch = null;
        DisposeTop();
        stream.Dispose();
    }

    /// <summary>Frees the top-k buffers.</summary>
    private void DisposeTop()
    {
        topValues?.Dispose();
        topIndex?.Dispose();
        hostTopValues?.Dispose();
        hostTopIndex?.Dispose();
        (topValues, topIndex, hostTopValues, hostTopIndex) = (null, null, null, null);
    }

    /// <summary>H = the embedding rows of the call's tokens, the table read as <typeparamref name="TW"/>.</summary>
    private void Embed<TW>(DecoderScratch s)
        where TW : struct, IElementView
    {
        var ids = s.Ids.View.SubView(0, rows);
        var gather = engine.Shapes.Elements("row-gather", (long)rows * d);
        var k = engine.Kernels.Decoder.For<TW>();
        k.RowGather(stream, gather, ElementViews.Of<TW>(weights.Embedding.View), ids, s.H.View, rows, d, d, 1);
    }

    /// <summary>
    /// The launches of layer <paramref name="layer"/> that read a weight stored as <typeparamref name="TW"/>: the MLP
    /// (X is its normed input), then the next layer's input norm, or after the <paramref name="last"/> layer the
    /// final norm, the gather of the picked rows and the LM head into the logits.
    /// </summary>
    private void Weighted<TW>(DecoderScratch s, int layer, bool last)
        where TW : struct, IElementView
    {
        var k = engine.Kernels.Decoder.For<TW>();
        var w = weights.Layers[layer];
        Project(k.GateUp, "gate-up", s, s.X, w.GateUp, rows, d, 2 * inter, new SwiGluEpilogue { Act = s.Act.View, Inner = inter });
        Project(k.Down, "down", s, s.Act, w.Down, rows, inter, d, new ResidualEpilogue { H = s.H.View, Outer = d });
        if (!last)
        {
            Norm(s, weights.Layers[layer + 1].InputNorm);
            return;
        }

        Norm(s, weights.FinalNorm);
        engine.Kernels.Decoder.Float32.RowGather(
            stream, engine.Shapes.Elements("row-gather", (long)picked * d), new Float32View { View = s.X.View }, s.Ids.View.SubView(rows, picked), s.PickedRows.View, picked, d, d, 1);
        Project(engine.Kernels.For<TW, Float32View>().Linear, "linear", s, s.PickedRows, weights.Head, picked, d, v,
            new BiasEpilogue { Bias = weights.ZeroBias.View, Y = s.Logits.View, Outer = v });
    }

    /// <summary>X = RMSNorm(H, <paramref name="weight"/>) over the call's rows.</summary>
    private void Norm(DecoderScratch s, DeviceBuffer<float> weight) =>
        engine.Kernels.Decoder.RmsNorm(stream, engine.Shapes.Groups("rms-norm", rows, engine.Shapes.GroupSize), s.H.View, weight.View, s.X.View, rows, d, eps);

    /// <summary>
    /// y [n, outer] = x [n, inner] W^T (<paramref name="weight"/> row-major [outer, inner]) through
    /// <paramref name="launcher"/> (projection <paramref name="kernel"/> of <see cref="KernelCatalog"/>) as the device's
    /// shapes plan it, growing the split-K partial sums the tile loop needs: the one place the decoder launches a projection.
    /// </summary>
    private void Project<TW, TEpilogue>(
        ProjectionLauncher<TW, TEpilogue> launcher, string kernel, DecoderScratch s, DeviceBuffer<float> x, DeviceBuffer<ushort> weight,
        int n, int innerWidth, int outer, TEpilogue epilogue)
        where TW : struct, IElementView
        where TEpilogue : struct, IProjectionEpilogue
    {
        if (!launches.TryGetValue((kernel, n), out var launch))
        {
            launch = engine.Shapes.Projection(kernel, n, innerWidth, outer);
            launches.Add((kernel, n), launch);
        }
        if (launch.PartialFloats > 0 && (s.Partial is null || s.Partial.Length < launch.PartialFloats))
        {
            stream.Synchronize(); // launches already enqueued may still read the smaller buffer (a model's first calls only)
            s.Partial?.Dispose();
            s.Partial = engine.Allocate<float>(launch.PartialFloats);
        }

        launcher.Launch(stream, launch, new ProjectionArgs
        {
            X = x.View,
            Rows = n,
            Inner = innerWidth,
            Outer = outer,
            Partial = s.Partial?.View ?? default,
        }, ElementViews.Of<TW>(weight.View), epilogue);
    }

    /// <summary>The scratch, replaced by a larger one when the call has more rows or picked rows than it holds.</summary>
    private DecoderScratch Ensure(int needRows, int needPicked)
    {
        if (scratch is { } s && s.Rows >= needRows && s.Picked >= needPicked)
        {
            return s;
        }

        stream.Synchronize(); // a failed call may have left launches that read the old scratch
        var created = new DecoderScratch(
            engine, d, inter, v, Math.Max(Math.Max(needRows, 1), scratch?.Rows ?? 0), Math.Max(Math.Max(needPicked, 1), scratch?.Picked ?? 0));
        scratch?.Dispose();
        scratch = created;
        return created;
    }
}
