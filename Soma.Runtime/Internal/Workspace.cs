using ILGPU;

namespace Soma.Internal;

/// <summary>
/// Per-layer scratch for one device pass of up to <see cref="Rows"/> tokens in up to <see cref="Segments"/>
/// sequences. Nothing here is session state: a pass writes scratch only, until its commit launch.
/// </summary>
internal sealed class Workspace : IDisposable
{
    private readonly List<IDisposable> owned = new();

    public Workspace(SomaEngine engine, SomaLayerOptions o, int rows, int segments)
    {
        Rows = rows;
        Segments = segments;
        int kv = o.KvHeads * o.HeadDim;
        int q = o.Heads * o.HeadDim;
        try
        {
            X = Own(engine.Allocate<float>((long)rows * o.ModelDim));
            Q = Own(engine.Allocate<float>((long)rows * q));
            KRotated = Own(engine.Allocate<float>((long)rows * kv));
            KRaw = Own(engine.Allocate<float>((long)rows * kv));
            V = Own(engine.Allocate<float>((long)rows * kv));
            FieldPrev = Own(engine.Allocate<float>((long)rows * kv));
            O = Own(engine.Allocate<float>((long)rows * q));
            Y = Own(engine.Allocate<float>((long)rows * o.ModelDim));
            Cos = Own(engine.Allocate<float>((long)rows * Math.Max(1, o.HeadDim / 2)));
            Sin = Own(engine.Allocate<float>((long)rows * Math.Max(1, o.HeadDim / 2)));
            IntMeta = Own(engine.Allocate<int>(rows + 3L * segments));
            LongMeta = Own(engine.Allocate<long>(rows + (long)segments));
            HostInts = new int[rows + 3 * segments];
            HostLongs = new long[rows + segments];
            FieldFinal = Own(engine.Allocate<float>((long)segments * kv));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Rows { get; }

    public int Segments { get; }

    public DeviceBuffer<float> X { get; } = null!;

    public DeviceBuffer<float> Q { get; } = null!;

    public DeviceBuffer<float> KRotated { get; } = null!;

    public DeviceBuffer<float> KRaw { get; } = null!;

    public DeviceBuffer<float> V { get; } = null!;

    public DeviceBuffer<float> FieldPrev { get; } = null!;

    public DeviceBuffer<float> O { get; } = null!;

    public DeviceBuffer<float> Y { get; } = null!;

    public DeviceBuffer<float> Cos { get; } = null!;

    public DeviceBuffer<float> Sin { get; } = null!;

    /// <summary>One upload of a pass's int metadata: row segment [rows] | slot, start, length [segments each].</summary>
    public DeviceBuffer<int> IntMeta { get; } = null!;

    /// <summary>One upload of a pass's long metadata: row position [rows] | segment first position [segments].</summary>
    public DeviceBuffer<long> LongMeta { get; } = null!;

    /// <summary>Host staging for <see cref="IntMeta"/>.</summary>
    public int[] HostInts { get; } = Array.Empty<int>();

    /// <summary>Host staging for <see cref="LongMeta"/>.</summary>
    public long[] HostLongs { get; } = Array.Empty<long>();

    public ArrayView<long> Positions => LongMeta.View.SubView(0, Rows);

    public ArrayView<int> RowSegment => IntMeta.View.SubView(0, Rows);

    public ArrayView<int> SegSlot => IntMeta.View.SubView(Rows, Segments);

    public ArrayView<int> SegStart => IntMeta.View.SubView(Rows + Segments, Segments);

    public ArrayView<int> SegLength => IntMeta.View.SubView(Rows + 2L * Segments, Segments);

    public ArrayView<long> SegPosition => LongMeta.View.SubView(Rows, Segments);

    public DeviceBuffer<float> FieldFinal { get; } = null!;

    /// <summary>Split-window partial state (max, sum per (row, head, split); value sums per dim), grown on demand.</summary>
    public DeviceBuffer<float>? PartialMax { get; private set; }

    public DeviceBuffer<float>? PartialSum { get; private set; }

    public DeviceBuffer<float>? PartialAcc { get; private set; }

    /// <summary>Split-K partial sums of the projections, grown on demand.</summary>
    public DeviceBuffer<float>? ProjectionPartial { get; private set; }

    public ArrayView<float> EnsureProjectionPartial(SomaEngine engine, long count)
    {
        if (ProjectionPartial is not { } existing || existing.Length < count)
        {
            ProjectionPartial?.Dispose();
            ProjectionPartial = null;
            ProjectionPartial = engine.Allocate<float>(count);
        }

        return ProjectionPartial.View;
    }

    public void EnsurePartials(SomaEngine engine, long count, int headDim)
    {
        if (PartialMax is { } existing && existing.Length >= count)
        {
            return;
        }

        PartialMax?.Dispose();
        PartialSum?.Dispose();
        PartialAcc?.Dispose();
        PartialMax = PartialSum = PartialAcc = null;
        PartialMax = engine.Allocate<float>(count);
        PartialSum = engine.Allocate<float>(count);
        PartialAcc = engine.Allocate<float>(count * headDim);
    }

    public void Dispose()
    {
        PartialMax?.Dispose();
        PartialSum?.Dispose();
        PartialAcc?.Dispose();
        ProjectionPartial?.Dispose();
        foreach (var buffer in owned)
        {
            buffer.Dispose();
        }

        owned.Clear();
    }

    private DeviceBuffer<T> Own<T>(DeviceBuffer<T> buffer)
        where T : unmanaged
    {
        owned.Add(buffer);
        return buffer;
    }
}
