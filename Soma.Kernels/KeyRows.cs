using ILGPU;

namespace Soma.Kernels;

/// <summary>
/// Where the key and value rows of kv-head g of one segment live: positions from the segment's first on in the
/// chunk's rows (scratch the QKV epilogue wrote in the ring's storage type), earlier ones in the session slot's ring
/// at position mod W.
/// </summary>
internal struct KeyRows
{
    /// <summary>Absolute position of the segment's first token (the first one in the chunk).</summary>
    public long First;
    /// <summary>First row of the segment in the chunk.</summary>
    public int Start;
    /// <summary>The segment's state slot.</summary>
    public int Slot;
    /// <summary>The kv-head.</summary>
    public int KvHead;
    /// <summary>Key/value heads Hkv.</summary>
    public int KvHeads;
    /// <summary>Head dimension dh.</summary>
    public int HeadDim;
    /// <summary>Ring capacity W.</summary>
    public int Window;

    /// <summary>The rows of kv-head <paramref name="g"/> for segment <paramref name="s"/> of <paramref name="seg"/>.</summary>
    /// <param name="a">The launch's arguments (head counts, window).</param>
    /// <param name="seg">The launch's segments.</param>
    /// <param name="s">The segment.</param>
    /// <param name="g">The kv-head.</param>
    public KeyRows(AttentionArgs a, SegmentArgs seg, int s, int g)
    {
        First = seg.Position[s];
        Start = seg.Start[s];
        Slot = seg.Slot[s];
        KvHead = g;
        KvHeads = a.KvHeads;
        HeadDim = a.HeadDim;
        Window = a.Window;
    }

    /// <summary>Offset of the row of <paramref name="keyPos"/> in the chunk's rows (from <see cref="First"/> on) or in the slot's ring.</summary>
    /// <param name="keyPos">Absolute position of the key.</param>
    public readonly int Offset(long keyPos)
    {
        if (keyPos >= First)
        {
            return ((Start + (int)(keyPos - First)) * KvHeads + KvHead) * HeadDim;
        }

        int ringSlot = (int)(keyPos % Window);
        return ((Slot * Window + ringSlot) * KvHeads + KvHead) * HeadDim;
    }

    /// <summary>
    /// The one read of a key or value element: chunkRows[index] for a position in the chunk, else ringRows[index]
    /// (the session's ring), each widened from the ring's storage type.
    /// </summary>
    /// <typeparam name="TRing">How the ring (and the chunk's rows) store keys and values.</typeparam>
    /// <param name="chunkRows">The chunk's keys or values.</param>
    /// <param name="ringRows">The ring's keys or values.</param>
    /// <param name="keyPos">Absolute position of the key.</param>
    /// <param name="index">Element index (<see cref="Offset"/> + dimension).</param>
    public readonly float Read<TRing>(TRing chunkRows, TRing ringRows, long keyPos, int index)
        where TRing : struct, IElementView =>
        keyPos >= First ? chunkRows.Load(index) : ringRows.Load(index);

    /// <summary>
    /// Quad <paramref name="quadIndex"/> (elements 4q .. 4q + 3, from <see cref="Offset"/> / 4 on) of a key or value
    /// row read in one load (<see cref="IElementView.LoadQuad"/>): from the chunk's rows or the session's ring as
    /// <see cref="Read{TRing}"/> chooses. Needs dh % 4 == 0.
    /// </summary>
    /// <typeparam name="TRing">How the ring (and the chunk's rows) store keys and values.</typeparam>
    /// <param name="chunkRows">The chunk's keys or values.</param>
    /// <param name="ringRows">The ring's keys or values.</param>
    /// <param name="keyPos">Absolute position of the key.</param>
    /// <param name="quadIndex">Quad index.</param>
    public readonly Float4 ReadQuad<TRing>(TRing chunkRows, TRing ringRows, long keyPos, int quadIndex)
        where TRing : struct, IElementView =>
        keyPos >= First ? chunkRows.LoadQuad(quadIndex) : ringRows.LoadQuad(quadIndex);
}
