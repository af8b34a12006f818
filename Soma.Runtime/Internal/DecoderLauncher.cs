using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// Every device launch of a whole decoder outside its attention layers, on its own stream: the embedding lookup and
/// first norm (<see cref="Begin"/>), then between attention layers (<see cref="After"/>) the residual adds, norms and
/// SwiGLU MLP, and after the last layer the final norm, the LM head over the wanted rows and an on-device argmax.
/// The projections are the layers' projection tile loop (<see cref="Projection.TileKernel{TEpilogue}"/>) with their own
/// epilogues: gate|up as one projection writing silu(gate) * up (<see cref="SwiGluEpilogue"/>), down adding into the
/// residual stream (<see cref="ResidualEpilogue"/>), the LM head plain (<see cref="BiasEpilogue"/>, zero bias). One call at a time
/// (the model's lock); owns its scratch and stream.
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
    private bool onDevice;
    private float[] logits = [];
    private int[] best = [];

    public DecoderLauncher(SomaEngine engine, CausalLMWeights model, DecoderWeights weights)
    {
        this.engine = engine;
        this.weights = weights;
        (d, v, inter, layers, eps) = (model.ModelDim, model.VocabSize, model.Config.IntermediateSize, model.Layers.Count, (float)model.Config.RmsNormEps);
        stream = engine.Accelerator.CreateStream();
    }

    /// <summary>The last call's logits [picked, V] (when not greedy).</summary>
    public ReadOnlySpan<float> Logits => logits.AsSpan(0, picked * v);

    /// <summary>The last call's argmax per picked row (when greedy).</summary>
    public ReadOnlySpan<int> Best => best.AsSpan(0, picked);

    /// <inheritdoc />
    public DeviceRows? Device => onDevice ? new DeviceRows(scratch!.X.View, scratch.A.View, stream) : null;

    /// <summary>
    /// Starts a call: uploads <paramref name="tokens"/>, gathers their embeddings into h, and computes the first layer's
    /// input RMSNorm(h): with <paramref name="device"/> it stays on the device for the layers to read
    /// (<see cref="Device"/>), else it is written into <paramref name="x"/> [rows, D]. <paramref name="pick"/> names the
    /// rows whose logits the call returns; <paramref name="argmax"/> returns their argmax instead of the logits.
    /// </summary>
    public void Begin(ReadOnlySpan<int> tokens, ReadOnlySpan<int> pick, bool argmax, bool device, Span<float> x)
    {
        (rows, picked, greedy, onDevice) = (tokens.Length, pick.Length, argmax, device);
        var s = Ensure(rows, picked);
        var k = engine.Kernels.Decoder;
        var shapes = engine.Shapes;
        s.Tokens.Upload(stream, tokens);
        s.PickIndex.Upload(stream, pick);
        if (weights.Embedding is { } table)
        {
            k.RowGather(stream, shapes.Elements((long)rows * d), table.View, s.Tokens.View, s.H.View, rows, d, d, 1);
        }
        else
        {
            k.RowGather(stream, shapes.Elements((long)rows * d), weights.HeadT.View, s.Tokens.View, s.H.View, rows, d, 1, v);
        }

        Norm(s, weights.Layers[0].InputNorm);
        if (!device)
        {
            s.X.Download(stream, x[..(rows * d)]);
            stream.Synchronize();
        }
    }

    /// <inheritdoc />
    public void After(int layer, Span<float> output)
    {
        var s = scratch!;
        var k = engine.Kernels.Decoder;
        var shapes = engine.Shapes;
        var w = weights.Layers[layer];
        int count = rows * d;
        if (!onDevice)
        {
            s.A.Upload(stream, output[..count]);
        }

        k.ResidualAdd(stream, shapes.Elements(count), s.H.View, s.A.View, count);
        Norm(s, w.PostNorm);
        k.GateUp.Launch(
            stream, Plan(s, rows, d, 2 * inter), Operands(s, s.X, w.GateUpT, rows, d, 2 * inter),
            new SwiGluEpilogue { Act = s.Act.View, Inner = inter });
        k.Down.Launch(stream, Plan(s, rows, inter, d), Operands(s, s.Act, w.DownT, rows, inter, d), new ResidualEpilogue { H = s.H.View, Outer = d });
        if (layer + 1 < layers)
        {
            Norm(s, weights.Layers[layer + 1].InputNorm);
            if (!onDevice)
            {
                s.X.Download(stream, output[..count]);
                stream.Synchronize();
            }

            return;
        }

        Norm(s, weights.FinalNorm);
        k.RowGather(stream, shapes.Elements((long)picked * d), s.X.View, s.PickIndex.View, s.PickedRows.View, picked, d, d, 1);
        engine.Kernels.Linear.Launch(
            stream, Plan(s, picked, d, v), Operands(s, s.PickedRows, weights.HeadT, picked, d, v),
            new BiasEpilogue { Bias = weights.ZeroBias.View, Y = s.Logits.View, Outer = v });
        if (greedy)
        {
            k.Argmax(stream, shapes.Groups(picked, 2 * shapes.GroupSize), s.Logits.View, s.Best.View, picked, v);
            best = best.Length >= picked ? best : new int[picked];
            s.Best.Download(stream, best.AsSpan(0, picked));
            stream.Synchronize();
        }
        else
        {
            logits = logits.Length >= picked * v ? logits : new float[picked * v];
            s.Logits.Download(stream, logits.AsSpan(0, picked * v));
            stream.Synchronize();
        }
    }

    /// <summary>Frees the scratch and the stream. Never throws.</summary>
    public void Dispose()
    {
        scratch?.Dispose();
        scratch = null;
        stream.Dispose();
    }

    /// <summary>X = RMSNorm(H, <paramref name="weight"/>) over the call's rows.</summary>
    private void Norm(DecoderScratch s, DeviceBuffer<float> weight) =>
        engine.Kernels.Decoder.RmsNorm(stream, engine.Shapes.Groups(rows, engine.Shapes.GroupSize), s.H.View, weight.View, s.X.View, rows, d, eps);

    /// <summary>The projection's launch for <paramref name="n"/> rows (split-K where the device shape asks for it), growing the partial sums it needs.</summary>
    private ProjectionLaunch Plan(DecoderScratch s, int n, int innerWidth, int outer)
    {
        var launch = engine.Shapes.Projection(n, innerWidth, outer);
        if (launch.PartialFloats > 0 && (s.Partial is null || s.Partial.Length < launch.PartialFloats))
        {
            stream.Synchronize(); // launches already enqueued may still read the smaller buffer
            s.Partial?.Dispose();
            s.Partial = engine.Allocate<float>(launch.PartialFloats);
        }

        return launch;
    }

    /// <summary>The operands of y [n, outer] = x [n, inner] W^T on the layers' projection kernel.</summary>
    private static ProjectionArgs Operands(DecoderScratch s, DeviceBuffer<float> x, DeviceBuffer<float> weightT, int n, int innerWidth, int outer) => new()
    {
        X = x.View,
        WeightT = weightT.View,
        Rows = n,
        Inner = innerWidth,
        Outer = outer,
        Partial = s.Partial?.View ?? default,
    };

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
