using ILGPU;

namespace Soma.Kernels;

/// <summary>Segments of one launch: which state slot each sequence uses and which rows of the chunk are its tokens.</summary>
internal struct SegmentArgs
{
    /// <summary>State slot per segment.</summary>
    public ArrayView<int> Slot;
    /// <summary>First row of the segment in the chunk.</summary>
    public ArrayView<int> Start;
    /// <summary>Rows (tokens) of the segment.</summary>
    public ArrayView<int> Length;
    /// <summary>Absolute position of the segment's first token.</summary>
    public ArrayView<long> Position;
    /// <summary>Segment count.</summary>
    public int Count;
}
