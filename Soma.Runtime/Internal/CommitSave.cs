using ILGPU;
using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// A device copy of exactly what a call's commits will overwrite, taken before the first commit and put back if the
/// call fails: for each session, the ring rows its tokens land on (positions p .. p + min(W, rows) - 1 mod W, at most
/// two contiguous ranges of its slot's ring) and its field. Owned by a layer's <see cref="CallRunner"/> and reused by
/// every call: it grows to the largest call's rows (at most W rows a session) and is never allocated per call after.
/// </summary>
internal sealed class CommitSave : IDisposable
{
    private readonly SomaEngine engine;
    private readonly int channels;
    private readonly int window;
    private readonly int units;
    private DeviceBuffer<ushort>? ringK;
    private DeviceBuffer<ushort>? ringV;
    private DeviceBuffer<double>? field;
    private int[] rangeSlot = new int[8];
    private int[] rangeStart = new int[8];
    private int[] rangeRows = new int[8];
    private int[] fieldSlot = new int[4];
    private int ranges;
    private int fields;
    private StateStore? store;

    /// <summary>A save area for a layer whose rings have <paramref name="window"/> rows of <paramref name="channels"/> values of <paramref name="units"/> 16-bit units each.</summary>
    /// <param name="engine">The engine that allocates (and accounts for) the device copies.</param>
    /// <param name="channels">Hkv * dh: values per ring row and per field.</param>
    /// <param name="window">Ring rows per session.</param>
    /// <param name="units">16-bit units per ring value: 2 (fp32) or 1 (fp16, bf16).</param>
    public CommitSave(SomaEngine engine, int channels, int window, int units)
    {
        this.units = units;
        this.engine = engine;
        this.channels = channels;
        this.window = window;
    }

    /// <summary>Sessions whose state the save holds (0 when nothing is saved).</summary>
    public int Sessions => fields;

    /// <summary>
    /// Grows the device copies to hold <paramref name="rows"/> ring rows and <paramref name="sessions"/> fields (a
    /// workspace calls it when it is made, so that a call of its size never allocates).
    /// </summary>
    /// <param name="rows">Ring rows to hold.</param>
    /// <param name="sessions">Fields to hold.</param>
    public void Reserve(long rows, int sessions)
    {
        if (ringK is null || ringK.Length < rows * channels * units)
        {
            ringK?.Dispose();
            ringV?.Dispose();
            ringK = ringV = null;
            long length = Math.Max(1, rows) * channels * units;
            ringK = engine.Allocate<ushort>(length);
            ringV = engine.Allocate<ushort>(length);
        }

        if (field is null || field.Length < (long)sessions * channels)
        {
            field?.Dispose();
            field = null;
            field = engine.Allocate<double>((long)Math.Max(1, sessions) * channels);
        }
    }

    /// <summary>
    /// Enqueues on <paramref name="stream"/> the copies of what committing <paramref name="rows"/> tokens for each
    /// session (from <paramref name="positions"/>) overwrites; marks the save as held once every copy is enqueued.
    /// </summary>
    /// <param name="stream">The stream the commits run on (the copies precede them).</param>
    /// <param name="state">The sessions' state.</param>
    /// <param name="slots">Each session's slot.</param>
    /// <param name="positions">Each session's position before the call.</param>
    /// <param name="rows">Tokens the call adds to each session.</param>
    /// <returns>The device-to-device copies enqueued.</returns>
    public int Take(AcceleratorStream stream, StateStore state, ReadOnlySpan<int> slots, ReadOnlySpan<long> positions, ReadOnlySpan<int> rows)
    {
        Clear();
        long total = 0;
        for (int s = 0; s < slots.Length; s++)
        {
            total += Math.Min(window, rows[s]);
        }

        Reserve(total, slots.Length);
        EnsureTable(2 * slots.Length, slots.Length);
        int count = 0;
        for (int s = 0; s < slots.Length; s++)
        {
            int n = Math.Min(window, rows[s]);
            int start = (int)(positions[s] % window);
            int first = Math.Min(n, window - start);
            count = Add(count, slots[s], start, first);
            count = Add(count, slots[s], 0, n - first);
            fieldSlot[s] = slots[s];
        }

        for (int i = 0, offset = 0; i < count; offset += rangeRows[i], i++)
        {
            Ring(state, state.RingK, rangeSlot[i], rangeStart[i], rangeRows[i]).CopyTo(stream, Saved(ringK!, offset, rangeRows[i]));
            Ring(state, state.RingV, rangeSlot[i], rangeStart[i], rangeRows[i]).CopyTo(stream, Saved(ringV!, offset, rangeRows[i]));
        }

        for (int s = 0; s < slots.Length; s++)
        {
            FieldOf(state, fieldSlot[s]).CopyTo(stream, field!.View.SubView((long)s * channels, channels));
        }

        (store, ranges, fields) = (state, count, slots.Length);
        return 2 * count + slots.Length;
    }

    /// <summary>Copies the saved rows and fields back into the sessions' slots and waits; then holds nothing.</summary>
    /// <param name="stream">A stream with no work of the failed call left on it.</param>
    public void Restore(AcceleratorStream stream)
    {
        if (store is not { } state)
        {
            return;
        }

        for (int i = 0, offset = 0; i < ranges; offset += rangeRows[i], i++)
        {
            Saved(ringK!, offset, rangeRows[i]).CopyTo(stream, Ring(state, state.RingK, rangeSlot[i], rangeStart[i], rangeRows[i]));
            Saved(ringV!, offset, rangeRows[i]).CopyTo(stream, Ring(state, state.RingV, rangeSlot[i], rangeStart[i], rangeRows[i]));
        }

        for (int s = 0; s < fields; s++)
        {
            field!.View.SubView((long)s * channels, channels).CopyTo(stream, FieldOf(state, fieldSlot[s]));
        }

        stream.Synchronize();
        Clear();
    }

    /// <summary>Forgets the save (the call it was taken for succeeded or ended).</summary>
    public void Clear() => (store, ranges, fields) = (null, 0, 0);

    /// <summary>Frees the device copies. Never throws.</summary>
    public void Dispose()
    {
        ringK?.Dispose();
        ringV?.Dispose();
        field?.Dispose();
    }

    /// <summary>Appends a range of <paramref name="rows"/> ring rows of <paramref name="slot"/> from <paramref name="start"/> (none when empty); returns the new count.</summary>
    private int Add(int count, int slot, int start, int rows)
    {
        if (rows > 0)
        {
            (rangeSlot[count], rangeStart[count], rangeRows[count]) = (slot, start, rows);
            count++;
        }

        return count;
    }

    /// <summary>Grows the host tables of ranges and fields (only when a call is larger than every call before).</summary>
    private void EnsureTable(int rangeCount, int sessions)
    {
        if (rangeSlot.Length < rangeCount)
        {
            rangeSlot = new int[rangeCount];
            rangeStart = new int[rangeCount];
            rangeRows = new int[rangeCount];
        }

        if (fieldSlot.Length < sessions)
        {
            fieldSlot = new int[sessions];
        }
    }

    /// <summary>Ring rows <paramref name="start"/> .. + <paramref name="rows"/> of <paramref name="slot"/>.</summary>
    private static ArrayView<ushort> Ring(StateStore state, DeviceBuffer<ushort> ring, int slot, int start, int rows) =>
        state.Rows(ring, slot, start, rows);

    /// <summary>The saved copy of <paramref name="rows"/> rows from row <paramref name="offset"/>.</summary>
    private ArrayView<ushort> Saved(DeviceBuffer<ushort> saved, int offset, int rows) =>
        saved.View.SubView((long)offset * channels * units, (long)rows * channels * units);

    /// <summary>The field of <paramref name="slot"/>.</summary>
    private ArrayView<double> FieldOf(StateStore state, int slot) => state.Field.View.SubView((long)slot * channels, channels);
}
