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
    private QkvProjectionArgs qkv;
    private LinearArgs output;
    private AttentionArgs attention;
    private SegmentArgs segments;
    private DeviceBuffer<double>? field;
    private DeviceBuffer<float>? gamma;
    private DeviceBuffer<double>? fieldFinal;
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
        var (_, qkvTiling) = shapes.Projection(n, o.ModelDim, m);
        var (_, outTiling) = shapes.Projection(n, q, o.ModelDim);
        qkv = new QkvProjectionArgs
        {
            X = Random(n * o.ModelDim), WeightT = Random((long)o.ModelDim * m), Bias = Random(m), Cos = Random(n * (dh / 2)),
            Sin = Random(n * (dh / 2)), Q = Buffer(n * q), KRotated = Buffer(n * channels), KRaw = Random(n * channels), V = Buffer(n * channels),
            Tokens = n, ModelDim = o.ModelDim, Heads = o.Heads, KvHeads = o.KvHeads, HeadDim = dh, Rope = 1, Tiling = qkvTiling,
            Partial = Buffer((long)qkvTiling.KSlices * n * m),
        };
        output = new LinearArgs
        {
            X = Random(n * q), WeightT = Random((long)q * o.ModelDim), Bias = Random(o.ModelDim), Y = Buffer(n * o.ModelDim),
            Rows = n, Inner = q, Outer = o.ModelDim, Tiling = outTiling, Partial = Buffer((long)outTiling.KSlices * n * o.ModelDim),
        };
        segments = new SegmentArgs
        {
            Slot = Upload(new[] { 0 }), Start = Upload(new[] { 0 }), Length = Upload(new[] { n }), Position = Upload(new[] { 10_000L }), Count = 1,
        };
        field = Own(Engine.Allocate<double>(channels));
        gamma = Own(Engine.Allocate<float>(o.KvHeads));
        fieldFinal = Own(Engine.Allocate<double>(channels));
        int hpg = shapes.AttentionHeadsPerGroup(o.HeadsPerKvHead, dh);
        int splits = shapes.AttentionSplits((long)n * o.KvHeads * ((o.HeadsPerKvHead + hpg - 1) / hpg), o.Window);
        attention = new AttentionArgs
        {
            Q = qkv.Q, K = qkv.KRotated, V = qkv.V, RingK = Random((long)o.Window * channels), RingV = Random((long)o.Window * channels),
            FieldPrev = Random(n * channels), Alpha = Random(o.Heads), Output = Buffer(n * q), RowSegment = Upload(new int[n]),
            Tokens = n, Heads = o.Heads, KvHeads = o.KvHeads, HeadDim = dh, Window = o.Window, IncludeCurrent = 1, FarField = 1,
            TileKeys = shapes.TileKeys, HeadsPerGroup = hpg, Scale = (float)o.Scale, StageTiles = shapes.StageAttentionTiles ? 1 : 0,
            Splits = splits, PartialMax = Buffer((long)n * o.Heads * splits), PartialSum = Buffer((long)n * o.Heads * splits),
            PartialAcc = Buffer((long)n * o.Heads * splits * dh),
        };
        stream.Synchronize();
    }

    [Benchmark]
    public void QkvProjection()
    {
        var e = Engine;
        var (config, _) = e.Shapes.Projection(Rows, qkv.ModelDim, (qkv.Heads + 2 * qkv.KvHeads) * qkv.HeadDim, qkv.Tiling);
        e.Kernels.Qkv(stream!, config, qkv);
        if (qkv.Tiling.KSlices > 1)
        {
            e.Kernels.QkvReduce(stream!, e.Shapes.Elements((long)Rows * (qkv.Heads + 2 * qkv.KvHeads) * qkv.HeadDim), qkv);
        }

        stream!.Synchronize();
    }

    [Benchmark]
    public void FieldScan()
    {
        var e = Engine;
        e.Kernels.FieldScan(
            stream!, e.Shapes.GroupsWithDoubles(channels, Kernels.FieldScan.SharedDoubles(e.Shapes.GroupSize)), segments,
            field!.View, gamma!.View, qkv.KRaw, attention.FieldPrev, fieldFinal!.View, channels, qkv.HeadDim);
        stream!.Synchronize();
    }

    [Benchmark]
    public void Attention()
    {
        var e = Engine;
        long items = (long)Rows * attention.KvHeads * ((attention.Heads / attention.KvHeads + attention.HeadsPerGroup - 1) / attention.HeadsPerGroup);
        e.Kernels.Attention(
            stream!,
            e.Shapes.Groups(items * attention.Splits, NearFieldAttention.SharedFloats(attention.HeadsPerGroup, attention.HeadDim, attention.TileKeys, attention.StageTiles != 0)),
            attention,
            segments);
        if (attention.Splits > 1)
        {
            e.Kernels.AttentionCombine(stream!, e.Shapes.Elements((long)Rows * attention.Heads * attention.HeadDim), attention);
        }

        stream!.Synchronize();
    }

    [Benchmark]
    public void OutputProjection()
    {
        var e = Engine;
        var (config, _) = e.Shapes.Projection(Rows, output.Inner, output.Outer, output.Tiling);
        e.Kernels.Linear(stream!, config, output);
        if (output.Tiling.KSlices > 1)
        {
            e.Kernels.LinearReduce(stream!, e.Shapes.Elements((long)Rows * output.Outer), output);
        }

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
