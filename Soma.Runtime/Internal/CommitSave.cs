using System.Runtime.InteropServices;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// The save area of a call's commits: the commit kernel copies each ring element and field it overwrites here before
/// writing it (<see cref="StateCommit"/>), so saving costs no launch and no copy, and a failed call is put back by
/// one restore launch (<see cref="Restore"/>). Per session of the call, in order, one run of save rows indexed by
/// (position - the session's position before the call) mod W: min(W, rows) rows for the first session with rows, its
/// rows for each later one (a pass finds a session's run from the rows before it, with no per-call metadata), and
/// one field. A pass saves only what no earlier pass of the call wrote, so the area holds the state before the call
/// whatever the passes. Owned by a layer's <see cref="CallRunner"/>; grown when a workspace is made (and for a call
/// larger than every one before), never allocated per call.
/// </summary>
internal sealed class CommitSave : IDisposable
{
    private readonly SomaEngine engine;
    private readonly int channels;
    private readonly int window;
    private readonly int units;
    private readonly bool writeField;
    private DeviceBuffer<ushort>? ringK;
    private DeviceBuffer<ushort>? ringV;
    private DeviceBuffer<double>? field;
    private DeviceBuffer<int>? table;
    private int[] slots = new int[4];
    private long[] first = new long[4];
    private int[] rows = new int[4];
    private int[] saveRow = new int[5];
    private int[] fieldRow = new int[4];
    private int[] committed = new int[4];
    private int[] hostTable = new int[20];
    private int count;
    private int cursor;
    private StateStore? store;
    private bool held;

    /// <summary>A save area for a layer whose rings have <paramref name="window"/> rows of <paramref name="channels"/> values of <paramref name="units"/> 16-bit units each.</summary>
    /// <param name="engine">The engine that allocates (and accounts for) the save area and launches the restore.</param>
    /// <param name="channels">Hkv * dh: values per ring row and per field.</param>
    /// <param name="window">Ring rows per session.</param>
    /// <param name="units">16-bit units per ring value: 2 (fp32) or 1 (fp16, bf16).</param>
    /// <param name="writeField">Whether the commits write a field (false for the standard-attention baseline).</param>
    public CommitSave(SomaEngine engine, int channels, int window, int units, bool writeField)
    {
        this.units = units;
        this.engine = engine;
        this.channels = channels;
        this.window = window;
        this.writeField = writeField;
    }

    /// <summary>Sessions whose state the save holds (0 until a commit of the call has been enqueued).</summary>
    public int Sessions
    {
        get
        {
            int saved = 0;
            for (int s = 0; held && s < count; s++)
            {
                saved += committed[s] > 0 ? 1 : 0;
            }

            return saved;
        }
    }

    /// <summary>
    /// Grows the save area to hold <paramref name="saveRows"/> ring rows and <paramref name="sessions"/> fields (a
    /// workspace calls it when it is made, so that a call of its size never allocates).
    /// </summary>
    /// <param name="saveRows">Ring rows to hold.</param>
    /// <param name="sessions">Fields (and restore segments) to hold.</param>
    public void Reserve(long saveRows, int sessions)
    {
        if (ringK is null || ringK.Length < saveRows * channels * units)
        {
            ringK?.Dispose();
            ringV?.Dispose();
            ringK = ringV = null;
            long length = Math.Max(1, saveRows) * channels * units;
            ringK = engine.Allocate<ushort>(length);
            ringV = engine.Allocate<ushort>(length);
        }

        if (field is null || field.Length < (long)sessions * channels)
        {
            field?.Dispose();
            table?.Dispose();
            field = null;
            table = null;
            field = engine.Allocate<double>((long)Math.Max(1, sessions) * channels);
            table = engine.Allocate<int>(5L * Math.Max(1, sessions));
        }
    }

    /// <summary>
    /// Lays out the save of a call that adds <paramref name="callRows"/> tokens to each session (host only: enqueues
    /// nothing, holds nothing yet) and grows the area when the call is larger than every one before.
    /// </summary>
    /// <param name="state">The sessions' state.</param>
    /// <param name="callSlots">Each session's slot.</param>
    /// <param name="positions">Each session's position before the call.</param>
    /// <param name="callRows">Tokens the call adds to each session.</param>
    public void Begin(StateStore state, ReadOnlySpan<int> callSlots, ReadOnlySpan<long> positions, ReadOnlySpan<int> callRows)
    {
        Clear();
        int n = callSlots.Length;
        if (slots.Length < n)
        {
            (slots, first, rows, fieldRow, committed) = (new int[n], new long[n], new int[n], new int[n], new int[n]);
            (saveRow, hostTable) = (new int[n + 1], new int[5 * n]);
        }

        int fields = 0;
        long next = 0;
        for (int s = 0; s < n; s++)
        {
            (slots[s], first[s], rows[s], committed[s], saveRow[s], fieldRow[s]) = (callSlots[s], positions[s], callRows[s], 0, (int)next, fields);
            next += fields == 0 ? Math.Min(window, callRows[s]) : callRows[s];
            fields += callRows[s] > 0 ? 1 : 0;
        }

        saveRow[n] = (int)next;
        Reserve(next, n);
        (store, count) = (state, n);
    }

    /// <summary>
    /// The save part of <paramref name="args"/> for the commit of <paramref name="pass"/>, the call's next pass (its
    /// sessions follow the ones before, <see cref="PassPlan.Split"/>).
    /// </summary>
    /// <param name="args">The commit's other arguments.</param>
    /// <param name="pass">The pass about to commit.</param>
    public CommitArgs Bind(CommitArgs args, PassPlan pass)
    {
        int s = First();
        args.SaveK = ringK!.View;
        args.SaveV = ringV!.View;
        args.SaveField = field!.View;
        args.SaveFirst = saveRow[s];
        args.SaveNext = saveRow[s + 1];
        args.FirstDone = (int)(pass.First[0] - first[s]);
        args.FirstSession = fieldRow[s];
        args.Restore = 0;
        return args;
    }

    /// <summary>Records that <paramref name="pass"/>'s commit is enqueued: from now on the save holds its sessions.</summary>
    /// <param name="pass">The pass whose commit was enqueued.</param>
    public void Committed(PassPlan pass)
    {
        for (int i = 0, s = First(); i < pass.Rows.Length; i++, s++)
        {
            for (; rows[s] == 0; s++)
            {
            }

            committed[s] += pass.Rows[i];
        }

        held = true;
    }

    /// <summary>
    /// Puts back what the call's enqueued commits overwrote, by one restore launch on <paramref name="stream"/>, and
    /// waits; then holds nothing. Nothing when no commit was enqueued.
    /// </summary>
    /// <param name="stream">A stream with no work of the failed call left on it.</param>
    public void Restore(AcceleratorStream stream)
    {
        if (!held || store is not { } state)
        {
            return;
        }

        // The restore's segments: the sessions with committed rows (complete ones, then at most one in progress),
        // from their first position, laid out like one pass: longs position | ints slot, start, length.
        int segments = 0, longest = 0, firstSession = -1;
        var longs = MemoryMarshal.Cast<int, long>(hostTable.AsSpan(0, 2 * count));
        for (int s = 0, start = 0; s < count; s++)
        {
            if (committed[s] > 0)
            {
                firstSession = firstSession < 0 ? s : firstSession;
                longs[segments] = first[s];
                hostTable[2 * count + segments] = slots[s];
                hostTable[3 * count + segments] = start;
                hostTable[4 * count + segments] = committed[s];
                (start, longest, segments) = (start + committed[s], Math.Max(longest, Math.Min(window, committed[s])), segments + 1);
            }
        }

        table!.Upload(stream, hostTable.AsSpan(0, 5 * count));
        var view = table.View;
        var args = new CommitArgs
        {
            Segments = new SegmentArgs
            {
                Position = view.SubView(0, 2L * count).Cast<long>(), Slot = view.SubView(2L * count, count),
                Start = view.SubView(3L * count, count), Length = view.SubView(4L * count, count), Count = segments,
            },
            RingK = state.RingK.View, RingV = state.RingV.View, Field = state.Field.View, Channels = channels, Units = units, Window = window,
            RowsPerSegment = longest, WriteField = writeField ? 1 : 0, SaveK = ringK!.View, SaveV = ringV!.View, SaveField = field!.View,
            SaveFirst = saveRow[firstSession], SaveNext = saveRow[firstSession + 1], FirstSession = fieldRow[firstSession], Restore = 1,
        };
        engine.Kernels.Commit.Launch(stream, engine.Shapes.Elements("commit", (long)segments * Math.Max(longest, 1) * channels * units), args);
        stream.Synchronize();
        Clear();
    }

    /// <summary>Forgets the save (the call it was taken for succeeded or ended).</summary>
    public void Clear() => (store, held, count, cursor) = (null, false, 0, 0);

    /// <summary>Frees the save area. Never throws.</summary>
    public void Dispose()
    {
        ringK?.Dispose();
        ringV?.Dispose();
        field?.Dispose();
        table?.Dispose();
    }

    /// <summary>The session the next pass starts with: the first with rows not yet committed.</summary>
    private int First()
    {
        for (; cursor < count && committed[cursor] == rows[cursor]; cursor++)
        {
        }

        return cursor;
    }
}
