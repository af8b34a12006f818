using ILGPU;

namespace Soma.Kernels;

/// <summary>Inputs and outputs of one state commit launch (<see cref="StateCommit"/>).</summary>
internal struct CommitArgs
{
    /// <summary>The launch's segments (slot, rows, first position of each sequence).</summary>
    public SegmentArgs Segments;
    /// <summary>The chunk's rotated keys [n, Hkv * dh], raw 16-bit units of the ring's storage type.</summary>
    public ArrayView<ushort> KRotated;
    /// <summary>The chunk's values [n, Hkv * dh], raw 16-bit units.</summary>
    public ArrayView<ushort> V;
    /// <summary>The field after each segment, fp64, [segments, Hkv * dh].</summary>
    public ArrayView<double> Final;
    /// <summary>Ring keys [slots, W, Hkv * dh] (written), raw 16-bit units.</summary>
    public ArrayView<ushort> RingK;
    /// <summary>Ring values [slots, W, Hkv * dh] (written), raw 16-bit units.</summary>
    public ArrayView<ushort> RingV;
    /// <summary>Field state per slot [slots, Hkv * dh] (written when <see cref="WriteField"/>).</summary>
    public ArrayView<double> Field;
    /// <summary>Channels Hkv * dh.</summary>
    public int Channels;
    /// <summary>16-bit units per ring value: 2 (fp32) or 1 (fp16, bf16).</summary>
    public int Units;
    /// <summary>Ring capacity W.</summary>
    public int Window;
    /// <summary>Ring rows the launch covers per segment: min(W, longest segment).</summary>
    public int RowsPerSegment;
    /// <summary>1: write the field too; 0: ring only (the standard-attention baseline has no field).</summary>
    public int WriteField;
    /// <summary>Save area of ring keys [call's save rows, Hkv * dh] (raw 16-bit units): what the commits overwrote.</summary>
    public ArrayView<ushort> SaveK;
    /// <summary>Save area of ring values, like <see cref="SaveK"/>.</summary>
    public ArrayView<ushort> SaveV;
    /// <summary>Saved fields [call's sessions with rows, Hkv * dh].</summary>
    public ArrayView<double> SaveField;
    /// <summary>Save row where the first segment's session starts.</summary>
    public int SaveFirst;
    /// <summary>Save row where the second segment's session starts (every later segment's follows by its rows).</summary>
    public int SaveNext;
    /// <summary>Rows of the first segment's session that earlier passes of the call committed (0 for a fresh one).</summary>
    public int FirstDone;
    /// <summary>Saved field row of the first segment's session (each later segment's is the next).</summary>
    public int FirstSession;
    /// <summary>1: put the saved elements back (ring = save, field = save) instead of committing.</summary>
    public int Restore;
}
