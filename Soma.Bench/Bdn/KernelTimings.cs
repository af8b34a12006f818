using BenchmarkDotNet.Attributes;
using ILGPU;
using ILGPU.Runtime;
using Soma;
using Soma.Internal;
using Soma.Kernels;

namespace Soma.Bench.Bdn;

/// <summary>
/// Each kernel alone on device buffers of the layer's shape, launched as the layer launches it (stream synchronized
/// inside the measurement): QKV projection for one row (decode) and for a chunk, field scan, near-field attention
/// with the ring full, output projection.
/// </summary>
public class KernelTimings : AcceleratorSuite
{
    private readonly List<IDisposable> owned = new();
    private AcceleratorStream? stream;
    private ProjectionArgs qkvOperands;
    private BiasRopeEpilogue<Float32View> qkv;
    private Float32View qkvWeights;
    private Float32View outputWeights;
    private StoredKeyValues<Float32View> keyValues;
    private ProjectionLaunch qkvLaunch;
    private ProjectionArgs outputOperands;
    private BiasEpilogue output;
    private ProjectionLaunch outputLaunch;
    private AttentionArgs attention;
    private AttentionLaunch attentionLaunch;
    private SegmentArgs segments;
    private FieldScanArgs scan;
    private int channels;

    /// <summary>Rows (tokens) in the launch: 1 is a decode step, 256 a prefill chunk.</summary>
    [Params(1, 256)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var o = OpenEngine();
        var engine = Engine;
        stream = engine.Accelerator.DefaultStream;
        int n = Rows, dh = o.HeadDim, q = o.Heads * dh, m = q + 2 * o.KvHeads * dh;
        channels = o.KvHeads * dh;
        var shapes = engine.Shapes;
        qkvLaunch = shapes.Projection("qkv", n, o.ModelDim, m);
        outputLaunch = shapes.Projection("linear", n, q, o.ModelDim);
        qkvOperands = new ProjectionArgs
        {
            X = Random(n * o.ModelDim), Rows = n, Inner = o.ModelDim, Outer = m,
            Partial = Buffer(Math.Max(1, qkvLaunch.PartialFloats)),
        };
        qkvWeights = new Float32View { View = Random((long)o.ModelDim * m) };
        qkv = new BiasRopeEpilogue<Float32View>
        {
            Bias = Random(m), Cos = Random(n * (dh / 2)), Sin = Random(n * (dh / 2)), Q = Buffer(n * q), KRotated = new() { View = Buffer(n * channels) },
            KRaw = Random(n * channels), V = new() { View = Buffer(n * channels) }, Heads = o.Heads, KvHeads = o.KvHeads, HeadDim = dh, Rope = 1,
        };
        outputOperands = new ProjectionArgs
        {
            X = Random(n * q), Rows = n, Inner = q, Outer = o.ModelDim,
            Partial = Buffer(Math.Max(1, outputLaunch.PartialFloats)),
        };
        outputWeights = new Float32View { View = Random((long)q * o.ModelDim) };
        output = new BiasEpilogue { Bias = Random(o.ModelDim), Y = Buffer(n * o.ModelDim), Outer = o.ModelDim };
        segments = new SegmentArgs
        {
            Slot = Upload(new[] { 0 }), Start = Upload(new[] { 0 }), Length = Upload(new[] { n }), Position = Upload(new[] { 10_000L }), Count = 1,
        };
        int hpg = shapes.AttentionHeadsPerGroup(o.HeadsPerKvHead, dh);
        attentionLaunch = shapes.Attention(n, o.Heads, o.KvHeads, dh, hpg, o.Window);
        attention = new AttentionArgs
        {
            Q = qkv.Q,
            FieldPrev = Random(n * channels), Alpha = Random(o.Heads), Output = Buffer(n * q), RowSegment = Upload(new int[n]),
            Tokens = n, Heads = o.Heads, KvHeads = o.KvHeads, HeadDim = dh, Window = o.Window, IncludeCurrent = 1, FarField = 1,
            Scale = (float)o.Scale, PartialMax = Buffer(Math.Max(1, attentionLaunch.Partials)), PartialSum = Buffer(Math.Max(1, attentionLaunch.Partials)),
            PartialAcc = Buffer(Math.Max(1, attentionLaunch.Partials) * dh),
        };
        keyValues = new StoredKeyValues<Float32View>
        {
            K = qkv.KRotated, V = qkv.V, RingK = new() { View = Random((long)o.Window * channels) }, RingV = new() { View = Random((long)o.Window * channels) },
        };
        scan = new FieldScanArgs
        {
            Segments = segments, Field = Own(Engine.Allocate<double>(channels)).View, Gamma = Own(Engine.Allocate<float>(o.KvHeads)).View, KRaw = qkv.KRaw,
            Prev = attention.FieldPrev, Final = Own(Engine.Allocate<double>(channels)).View, Channels = channels, HeadDim = dh,
        };
        stream.Synchronize();
    }

    [Benchmark]
    public void QkvProjection()
    {
        Engine.Kernels.Float32.Qkv.Launch(stream!, qkvLaunch, qkvOperands, qkvWeights, qkv);
        stream!.Synchronize();
    }

    [Benchmark]
    public void FieldScan()
    {
        var e = Engine;
        e.Kernels.FieldScan.Launch(stream!, e.Shapes.GroupsWithDoubles("field-scan", channels, Kernels.FieldScan.SharedDoubles(e.Shapes.GroupSize)), scan);
        stream!.Synchronize();
    }

    [Benchmark]
    public void Attention()
    {
        Engine.Kernels.Float32.Attention.Launch(stream!, attentionLaunch, attention, segments, keyValues);
        stream!.Synchronize();
    }

    [Benchmark]
    public void OutputProjection()
    {
        Engine.Kernels.Float32.Linear.Launch(stream!, outputLaunch, outputOperands, outputWeights, output);
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

    private ArrayView<float> Random(long length)
    {
        var buffer = Own(Engine.Allocate<float>(length));
        buffer.Upload(stream!, QuickRun.RandomInputs(1, checked((int)length), seed: (int)(length % 1000)));
        return buffer.View;
    }

    private ArrayView<T> Upload<T>(T[] data)
        where T : unmanaged
    {
        var buffer = Own(Engine.Allocate<T>(data.Length));
        buffer.Upload(stream!, data);
        return buffer.View;
    }
}
