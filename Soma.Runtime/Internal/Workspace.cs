using ILGPU;
using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// Per-layer scratch for one device pass of up to <see cref="Rows"/> tokens in up to <see cref="Segments"/>
/// sequences. Nothing here is session state: a pass writes scratch only, until its commit launch.
/// </summary>
/// <remarks>
/// Each pass's upload block (metadata and host input rows) and output rows live in <see cref="PassIo"/> sets: one for
/// single-pass calls, a second (made on the first call that needs it) so that a multi-pass call uploads the next
/// pass's block and downloads the previous pass's rows while the current one computes.
/// </remarks>
internal sealed class Workspace : IDisposable
{
    private readonly List<IDisposable> owned = new();
    private readonly SomaEngine engine;
    private readonly int modelDim;
    private PassIo? second;

    public Workspace(SomaEngine engine, SomaLayerOptions o, int rows, int segments)
    {
        this.engine = engine;
        modelDim = o.ModelDim;
        Rows = rows;
        Segments = segments;
        int kv = o.KvHeads * o.HeadDim;
        int q = o.Heads * o.HeadDim;
        try
        {
            First = Own(new PassIo(engine, rows, segments, o.ModelDim));
            Q = Own(engine.Allocate<float>((long)rows * q));
            int units = StorageTypes.Units(o.RingStorage);
            KRotated = Own(engine.Allocate<ushort>((long)rows * kv * units));
            KRaw = Own(engine.Allocate<float>((long)rows * kv));
            V = Own(engine.Allocate<ushort>((long)rows * kv * units));
            FieldPrev = Own(engine.Allocate<float>((long)rows * kv));
            O = Own(engine.Allocate<float>((long)rows * q));
            if (o.RopeTheta is not null)
            {
                Cos = Own(engine.Allocate<float>((long)rows * Math.Max(1, o.HeadDim / 2)));
                Sin = Own(engine.Allocate<float>((long)rows * Math.Max(1, o.HeadDim / 2)));
            }

            FieldFinal = Own(engine.Allocate<double>((long)segments * kv));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Rows { get; }

    public int Segments { get; }

    /// <summary>The input and output rows of a pass (of every pass of a single-pass call).</summary>
    public PassIo First { get; } = null!;

    public DeviceBuffer<float> Q { get; } = null!;

    /// <summary>The pass's rotated keys [rows, Hkv, dh] in the ring's storage type (raw 16-bit units), as the commit copies them into the ring.</summary>
    public DeviceBuffer<ushort> KRotated { get; } = null!;

    /// <summary>The pass's keys before RoPE [rows, Hkv, dh], what the field scan reads (written by prefill passes only: a decode pass's QKV epilogue takes the field's step itself).</summary>
    public DeviceBuffer<float> KRaw { get; } = null!;

    /// <summary>The pass's values [rows, Hkv, dh] in the ring's storage type (raw 16-bit units).</summary>
    public DeviceBuffer<ushort> V { get; } = null!;

    /// <summary>The field before each row [rows, Hkv, dh], fp32, from the scan or (decode) the QKV epilogue; attention reads it.</summary>
    public DeviceBuffer<float> FieldPrev { get; } = null!;

    public DeviceBuffer<float> O { get; } = null!;

    /// <summary>The RoPE table's cosines [rows, dh/2] of a prefill pass (a decode pass computes its angles in the QKV epilogue); null without RoPE.</summary>
    public DeviceBuffer<float>? Cos { get; }

    /// <summary>The RoPE table's sines [rows, dh/2]; null without RoPE.</summary>
    public DeviceBuffer<float>? Sin { get; }

    /// <summary>Field after each segment of the pass [segments, Hkv, dh], fp64 like the slots' field.</summary>
    public DeviceBuffer<double> FieldFinal { get; } = null!;

    /// <summary>Split-window partial state (max, sum per (row, head, split); value sums per dim), grown on demand.</summary>
    public DeviceBuffer<float>? PartialMax { get; private set; }

    public DeviceBuffer<float>? PartialSum { get; private set; }

    public DeviceBuffer<float>? PartialAcc { get; private set; }

    /// <summary>
    /// Counters of the split-KV decode attention's last-block-done merge, one per (row, kv-head), grown on demand:
    /// zeroed when made (on the pass's stream, before its first launch), each reset to 0 by the group that merges, and
    /// zeroed again by <see cref="ClearArrivals"/> after a failed call (a launch stopped part way could leave counts).
    /// </summary>
    public DeviceBuffer<int>? Arrivals { get; private set; }

    /// <summary>Split-K partial sums of the projections, grown on demand.</summary>
    public DeviceBuffer<float>? ProjectionPartial { get; private set; }

    /// <summary>The input and output rows of pass <paramref name="index"/> of a multi-pass call: the two sets alternate.</summary>
    public PassIo Io(int index) => index % 2 == 0 ? First : second ??= new PassIo(engine, Rows, Segments, modelDim);

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

    /// <summary>At least <paramref name="count"/> split-KV counters, all 0 (made and zeroed on <paramref name="stream"/> when short).</summary>
    public ArrayView<int> EnsureArrivals(SomaEngine engine, long count, AcceleratorStream stream)
    {
        if (Arrivals is not { } existing || existing.Length < count)
        {
            Arrivals?.Dispose();
            Arrivals = null;
            Arrivals = engine.Allocate<int>(count);
            Arrivals.View.MemSetToZero(stream);
        }

        return Arrivals.View;
    }

    /// <summary>Zeroes the split-KV counters (if any) on <paramref name="stream"/> and waits: after a failed call, whatever launch it stopped.</summary>
    public void ClearArrivals(AcceleratorStream stream)
    {
        if (Arrivals is { } arrivals)
        {
            arrivals.View.MemSetToZero(stream);
            stream.Synchronize();
        }
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
        Arrivals?.Dispose();
        ProjectionPartial?.Dispose();
        second?.Dispose();
        second = null;
        foreach (var buffer in owned)
        {
            buffer.Dispose();
        }

        owned.Clear();
    }

    private T Own<T>(T buffer)
        where T : IDisposable
    {
        owned.Add(buffer);
        return buffer;
    }
}
