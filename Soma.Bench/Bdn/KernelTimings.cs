using BenchmarkDotNet.Attributes;
using ILGPU;
using ILGPU.Runtime;
using Soma;
using Soma.Internal;
using Soma.Kernels;

namespace Soma.Bench.Bdn;

/// <summary>
/// Each kernel alone on device buffers of the layer's shape, planned and launched as a layer plans and launches it
/// (stream synchronized inside the measurement), in the storage types of <see cref="Storage"/>: the QKV projection
/// (a decode row takes the GEMV and the decode epilogue, which computes the RoPE angles and the field's step), the
/// field scan (a prefill chunk's), attention with the ring full (a decode row takes the split-KV decode kernel on a
/// GPU), the output projection.
/// </summary>
public class KernelTimings : AcceleratorSuite
{
    private readonly List<IDisposable> owned = new();
    private AcceleratorStream? stream;
    private ITimedKernels kernels = null!;

    /// <summary>Rows (tokens) in the launch: 1 is a decode step, 256 a prefill chunk.</summary>
    [Params(1, 256)]
    public int Rows { get; set; }

    /// <summary>Weight and ring storage: "f32" (both fp32) or "bf16-f16" (bf16 weights, fp16 ring: the decode target).</summary>
    [Params("f32", "bf16-f16")]
    public string Storage { get; set; } = "f32";

    /// <summary>The kernels a pass launches, each enqueued alone.</summary>
    private interface ITimedKernels
    {
        void Qkv(AcceleratorStream stream);

        void FieldScan(AcceleratorStream stream);

        void Attention(AcceleratorStream stream);

        void Output(AcceleratorStream stream);
    }

    [GlobalSetup]
    public void Setup()
    {
        var o = OpenEngine();
        stream = Engine.Accelerator.DefaultStream;
        kernels = Storage == "bf16-f16"
            ? new Launches<BFloat16View, Float16View>(this, o)
            : new Launches<Float32View, Float32View>(this, o);
        stream.Synchronize();
    }

    [Benchmark]
    public void QkvProjection()
    {
        kernels.Qkv(stream!);
        stream!.Synchronize();
    }

    [Benchmark]
    public void FieldScan()
    {
        kernels.FieldScan(stream!);
        stream!.Synchronize();
    }

    [Benchmark]
    public void Attention()
    {
        kernels.Attention(stream!);
        stream!.Synchronize();
    }

    [Benchmark]
    public void OutputProjection()
    {
        kernels.Output(stream!);
        stream!.Synchronize();
    }

    protected override void DisposeOwned()
    {
        owned.ForEach(b => b.Dispose());
        owned.Clear();
    }

    private DeviceBuffer<T> Own<T>(DeviceBuffer<T> buffer)
        where T : unmanaged
    {
        owned.Add(buffer);
        return buffer;
    }

    private ArrayView<float> Buffer(long length) => Own(Engine.Allocate<float>(length)).View;

    private ArrayView<float> Random(long length) => Upload(Inputs(length));

    /// <summary>Random values of <paramref name="length"/> elements stored as <typeparamref name="TView"/> (raw 16-bit units).</summary>
    private TView Stored<TView>(long length)
        where TView : struct, IElementView
    {
        var type = ElementViews.TypeOf<TView>();
        var units = new ushort[length * StorageTypes.Units(type)];
        StorageTypes.Encode(Inputs(length), units, type);
        return ElementViews.Of<TView>(Upload(units));
    }

    private static float[] Inputs(long length) => QuickRun.RandomInputs(1, checked((int)length), seed: (int)(length % 1000));

    private ArrayView<T> Upload<T>(T[] data)
        where T : unmanaged
    {
        var buffer = Own(Engine.Allocate<T>(data.Length));
        buffer.Upload(stream!, data);
        return buffer.View;
    }

    /// <summary>The buffers, arguments and plan entries of one storage pair.</summary>
    private sealed class Launches<TW, TR> : ITimedKernels
        where TW : struct, IElementView
        where TR : struct, IElementView
    {
        private readonly StorageKernels<TW, TR> kernels;
        private readonly SomaEngine engine;
        private readonly ProjectionArgs qkvOperands;
        private readonly BiasRopeEpilogue<TR> qkv;
        private readonly TW qkvWeights;
        private readonly ProjectionLaunch qkvLaunch;
        private readonly ProjectionArgs outputOperands;
        private readonly BiasEpilogue output;
        private readonly TW outputWeights;
        private readonly ProjectionLaunch outputLaunch;
        private readonly AttentionArgs attention;
        private readonly AttentionLaunch attentionLaunch;
        private readonly StoredKeyValues<TR> keyValues;
        private readonly SegmentArgs segments;
        private readonly FieldScanArgs scan;
        private readonly int channels;

        public Launches(KernelTimings suite, SomaLayerOptions o)
        {
            engine = suite.Engine;
            kernels = engine.Kernels.For<TW, TR>();
            var shapes = engine.Shapes.ForStorage(ElementViews.TypeOf<TW>(), ElementViews.TypeOf<TR>());
            int n = suite.Rows, dh = o.HeadDim, q = o.Heads * dh, m = q + 2 * o.KvHeads * dh;
            bool decode = n == 1;
            channels = o.KvHeads * dh;
            qkvLaunch = shapes.Projection("qkv", n, o.ModelDim, m);
            outputLaunch = shapes.Projection("linear", n, q, o.ModelDim);
            segments = new SegmentArgs
            {
                Slot = suite.Upload(new[] { 0 }), Start = suite.Upload(new[] { 0 }), Length = suite.Upload(new[] { n }),
                Position = suite.Upload(new[] { 10_000L }), Count = 1,
            };
            var field = suite.Upload(new double[channels]);
            var gamma = suite.Upload(Enumerable.Repeat(0.99f, o.KvHeads).ToArray());
            var fieldPrev = suite.Random(n * channels);
            qkvOperands = new ProjectionArgs
            {
                X = suite.Random(n * o.ModelDim), Rows = n, Inner = o.ModelDim, Outer = m,
                Partial = suite.Buffer(Math.Max(1, qkvLaunch.PartialFloats)),
            };
            qkvWeights = suite.Stored<TW>((long)o.ModelDim * m);
            qkv = new BiasRopeEpilogue<TR>
            {
                Bias = suite.Random(m), Cos = suite.Random(n * (dh / 2)), Sin = suite.Random(n * (dh / 2)), Q = suite.Buffer(n * q),
                KRotated = suite.Stored<TR>(n * channels), KRaw = suite.Random(n * channels), V = suite.Stored<TR>(n * channels),
                Heads = o.Heads, KvHeads = o.KvHeads, HeadDim = dh, Rope = 1,

                // A decode row: the epilogue computes its angles and the field's step, as a decode pass's does.
                Angles = decode ? 1 : 0, FieldStep = decode ? 1 : 0, Positions = segments.Position,
                InverseFrequencies = suite.Upload(Enumerable.Range(0, dh / 2).Select(j => Math.Pow(1e6, -2.0 * j / dh)).ToArray()),
                RowSegment = suite.Upload(new int[n]), Slot = segments.Slot, Field = field, Gamma = gamma, FieldPrev = fieldPrev,
                FieldFinal = suite.Own(engine.Allocate<double>(n * channels)).View,
            };
            outputOperands = new ProjectionArgs
            {
                X = suite.Random(n * q), Rows = n, Inner = q, Outer = o.ModelDim,
                Partial = suite.Buffer(Math.Max(1, outputLaunch.PartialFloats)),
            };
            outputWeights = suite.Stored<TW>((long)q * o.ModelDim);
            output = new BiasEpilogue { Bias = suite.Random(o.ModelDim), Y = suite.Buffer(n * o.ModelDim), Outer = o.ModelDim };
            int hpg = shapes.AttentionHeadsPerGroup(o.HeadsPerKvHead, dh);
            attentionLaunch = shapes.Attention(n, o.Heads, o.KvHeads, dh, hpg, o.Window, decode: decode);
            long partials = Math.Max(1, attentionLaunch.Partials);
            attention = new AttentionArgs
            {
                Q = qkv.Q, FieldPrev = fieldPrev, Alpha = suite.Random(o.Heads), Output = suite.Buffer(n * q), RowSegment = qkv.RowSegment,
                Tokens = n, Heads = o.Heads, KvHeads = o.KvHeads, HeadDim = dh, Window = o.Window, IncludeCurrent = 1, FarField = 1,
                Scale = (float)o.Scale, PartialMax = suite.Buffer(partials), PartialSum = suite.Buffer(partials), PartialAcc = suite.Buffer(partials * dh),
                Arrivals = suite.Upload(new int[n * o.KvHeads]),
            };
            keyValues = new StoredKeyValues<TR>
            {
                K = qkv.KRotated, V = qkv.V, RingK = suite.Stored<TR>((long)o.Window * channels), RingV = suite.Stored<TR>((long)o.Window * channels),
            };
            scan = new FieldScanArgs
            {
                Segments = segments, Field = field, Gamma = gamma, KRaw = qkv.KRaw, Prev = fieldPrev,
                Final = qkv.FieldFinal, Channels = channels, HeadDim = dh,
            };
        }

        public void Qkv(AcceleratorStream stream) => kernels.Qkv.Launch(stream, qkvLaunch, qkvOperands, qkvWeights, qkv);

        public void FieldScan(AcceleratorStream stream) =>
            engine.Kernels.FieldScan.Launch(
                stream, engine.Shapes.GroupsWithDoubles("field-scan", channels, Kernels.FieldScan.SharedDoubles(engine.Shapes.GroupSize)), scan);

        public void Attention(AcceleratorStream stream) => kernels.Attention.Launch(stream, attentionLaunch, attention, segments, keyValues);

        public void Output(AcceleratorStream stream) => kernels.Linear.Launch(stream, outputLaunch, outputOperands, outputWeights, output);
    }
}
