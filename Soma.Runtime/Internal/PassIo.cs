using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// One pass's upload block and output rows. The block holds everything a pass sends to the device, in one
/// page-locked host array and one device buffer, so a pass makes exactly one upload: its metadata, packed for the
/// pass's n rows and g segments (longs: row position [n] | segment first position [g]; ints: row segment [n] | slot,
/// start, length [g each]; 3n + 5g ints in all), followed, for host input, by x [n, D]. Y [rows, D] and its
/// page-locked copy carry host output back.
/// </summary>
/// <remarks>
/// The caller's spans are copied into and out of the page-locked arrays on the host; the device copies never touch
/// managed memory that the garbage collector could move. A call whose x and y are device views
/// (<see cref="CallIo"/>) uploads only the metadata part of the block and never uses <see cref="X"/> or the
/// page-locked y; one of several passes packs the metadata of as many passes as the block holds, one after another
/// (<see cref="Pack"/>), sends them in one copy and then points the views at each pass in turn (<see cref="Select"/>).
/// </remarks>
internal sealed class PassIo : IDisposable
{
    private readonly PageLockedArray1D<int> hostBlock = null!;
    private readonly PageLockedArray1D<float> hostY = null!;
    private int rows;
    private int segments;
    private int longInts;
    private int origin;

    /// <summary>Block and rows for passes of up to <paramref name="rows"/> rows in <paramref name="segments"/> sessions.</summary>
    /// <param name="engine">The engine that allocates (and accounts for) the device memory.</param>
    /// <param name="rows">Most rows of a pass.</param>
    /// <param name="segments">Most sessions of a pass.</param>
    /// <param name="modelDim">D.</param>
    public PassIo(SomaEngine engine, int rows, int segments, int modelDim)
    {
        long length = (long)rows * modelDim;
        int metadata = 3 * rows + 5 * segments;
        if (length + metadata > Array.MaxLength)
        {
            throw new ArgumentException(
                $"A pass of {rows} rows of width {modelDim} exceeds {Array.MaxLength} values; lower maxChunkTokens.", nameof(rows));
        }

        try
        {
            Block = engine.Allocate<int>(metadata + length);
            Y = engine.Allocate<float>(length);
            hostBlock = engine.Accelerator.AllocatePageLocked1D<int>(metadata + length, uninitialized: false);
            hostY = engine.Accelerator.AllocatePageLocked1D<float>(length, uninitialized: false);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Ints of the metadata of the pass last packed or selected (3n + 5g: the longs counted as two ints each).</summary>
    public int MetadataInts { get; private set; }

    /// <summary>The device block: metadata, then host input rows.</summary>
    public DeviceBuffer<int> Block { get; } = null!;

    /// <summary>Device output rows (where a host call's y is downloaded from).</summary>
    public DeviceBuffer<float> Y { get; } = null!;

    /// <summary>
    /// Absolute position of each row of the pass last packed or selected (as every view below: valid until the next
    /// <see cref="Upload"/>, <see cref="Pack"/> or <see cref="Select"/>).
    /// </summary>
    public ArrayView<long> Positions => Longs.SubView(0, rows);

    /// <summary>Segment (session of the pass) of each row.</summary>
    public ArrayView<int> RowSegment => Block.View.SubView(origin + longInts, rows);

    /// <summary>Input rows [<paramref name="count"/> / D, D] of a host call, uploaded with the metadata.</summary>
    /// <param name="count">Values of the pass's x.</param>
    public ArrayView<float> X(long count) => Block.View.SubView(origin + MetadataInts, count).Cast<float>();

    /// <summary>Output rows of the first <paramref name="count"/> values of <see cref="Y"/>.</summary>
    /// <param name="count">Values of the pass's y.</param>
    public ArrayView<float> YView(long count) => Y.View.SubView(0, count);

    private ArrayView<long> Longs => Block.View.SubView(origin, longInts).Cast<long>();

    /// <summary>The kernels' view of the pass's first <paramref name="count"/> segments.</summary>
    /// <param name="count">Sessions of the pass.</param>
    public SegmentArgs SegmentArgsFor(int count) => new()
    {
        Slot = Block.View.SubView(origin + longInts + rows, segments),
        Start = Block.View.SubView(origin + longInts + rows + segments, segments),
        Length = Block.View.SubView(origin + longInts + rows + 2L * segments, segments),
        Position = Longs.SubView(rows, segments),
        Count = count,
    };

    /// <summary>
    /// Packs <paramref name="pass"/>'s metadata and <paramref name="x"/> (empty for a call whose x is a device view)
    /// into the page-locked block, tightly for the pass's rows and segments, and enqueues its one upload. The
    /// page-locked block must not be packed again before the upload has run (a synchronization of
    /// <paramref name="stream"/> in between).
    /// </summary>
    /// <param name="stream">The stream the upload runs on.</param>
    /// <param name="pass">Which rows of which sessions (at most the block's rows and segments).</param>
    /// <param name="x">The pass's host input rows, or empty.</param>
    /// <returns>The bytes uploaded.</returns>
    public long Upload(AcceleratorStream stream, PassPlan pass, ReadOnlySpan<float> x)
    {
        Pack(pass, 0);
        x.CopyTo(MemoryMarshal.Cast<int, float>(hostBlock.Span[MetadataInts..]));
        return Send(stream, MetadataInts + x.Length);
    }

    /// <summary>Whether <paramref name="pass"/>'s metadata fits the block from int <paramref name="at"/> on.</summary>
    /// <param name="pass">Which rows of which sessions.</param>
    /// <param name="at">Where it would be packed (what <see cref="Pack"/> returned for the pass before, or 0).</param>
    public bool Fits(PassPlan pass, int at) => at + 3L * pass.Tokens + 5L * pass.Slots.Length <= hostBlock.Length;

    /// <summary>
    /// Packs <paramref name="pass"/>'s metadata into the page-locked block from int <paramref name="at"/> on (even: its
    /// positions are longs) and selects it (<see cref="Select"/>); uploads nothing. The block must not be packed
    /// again before the upload that carries it has run.
    /// </summary>
    /// <param name="pass">Which rows of which sessions (at most the block's rows and segments; <see cref="Fits"/>).</param>
    /// <param name="at">Where its metadata starts.</param>
    /// <returns>Where the next pass's metadata may start (even).</returns>
    public int Pack(PassPlan pass, int at)
    {
        int next = Select(pass, at);
        var block = hostBlock.Span.Slice(at, MetadataInts);
        var longs = MemoryMarshal.Cast<int, long>(block[..longInts]);
        var ints = block[longInts..];
        var (slots, passRows, first) = (pass.Slots, pass.Rows, pass.First);
        for (int s = 0, r = 0; s < slots.Length; s++)
        {
            ints[rows + s] = slots[s];
            ints[rows + segments + s] = r;
            ints[rows + 2 * segments + s] = passRows[s];
            longs[rows + s] = first[s];
            for (int i = 0; i < passRows[s]; i++, r++)
            {
                ints[r] = s;
                longs[r] = first[s] + i;
            }
        }

        return next;
    }

    /// <summary>Points the views at <paramref name="pass"/>'s metadata, packed from int <paramref name="at"/> on (<see cref="Pack"/>).</summary>
    /// <param name="pass">Which rows of which sessions.</param>
    /// <param name="at">Where its metadata starts.</param>
    /// <returns>Where the next pass's metadata starts (even).</returns>
    public int Select(PassPlan pass, int at)
    {
        (rows, segments, origin) = (pass.Tokens, pass.Slots.Length, at);
        longInts = 2 * (rows + segments);
        MetadataInts = longInts + rows + 3 * segments;
        return at + MetadataInts + (MetadataInts & 1);
    }

    /// <summary>Enqueues the upload of the block's first <paramref name="values"/> ints as packed; returns its bytes.</summary>
    /// <param name="stream">The stream the upload runs on.</param>
    /// <param name="values">Ints to upload (metadata and host rows).</param>
    public long Send(AcceleratorStream stream, int values)
    {
        Block.UploadAsync(stream, hostBlock, values);
        return sizeof(int) * (long)values;
    }

    /// <summary>Enqueues the download of the first <paramref name="count"/> values of <see cref="Y"/> into page-locked memory.</summary>
    /// <param name="stream">The stream the pass ran on.</param>
    /// <param name="count">Values of the pass's y.</param>
    public void Download(AcceleratorStream stream, int count) => Y.DownloadAsync(stream, hostY, count);

    /// <summary>Copies the downloaded rows into <paramref name="y"/>; call after the download's stream is synchronized.</summary>
    /// <param name="y">The caller's output rows.</param>
    public void CopyOut(Span<float> y) => hostY.Span[..y.Length].CopyTo(y);

    /// <summary>Frees the device and page-locked memory. Never throws.</summary>
    public void Dispose()
    {
        Block?.Dispose();
        Y?.Dispose();
        hostBlock?.Dispose();
        hostY?.Dispose();
    }
}
