using ILGPU;

namespace Soma.Kernels;

/// <summary>
/// The last step of every call: the chunk's last min(W, n) rotated keys and values go into their ring slots and the
/// field takes its end-of-chunk value (fp64, as the scan computed it). Nothing in a session's state changes before this launch.
/// Ring rows are copied as raw 16-bit units: the QKV epilogue already wrote them in the ring's storage type, so the
/// commit rounds nothing and one kernel serves every type.
/// </summary>
internal static class StateCommit
{
    // ring[slot, (p0+i) mod W] = (k, v)[start+i] for i >= n - W (in 16-bit units); field[slot] = final[s] (when writeField);
    // launch: any explicit group shape, grid-stride over (segment, last min(W, longest segment) rows, Hkv*dh), then (segment, Hkv*dh).
    public static void Kernel(CommitArgs a)
    {
        var seg = a.Segments;
        int channels = a.Channels;
        int rowUnits = channels * a.Units;
        int window = a.Window;
        int rowsPerSegment = a.RowsPerSegment;
        int stride = Grid.DimX * Group.DimX;
        int ringItems = seg.Count * rowsPerSegment * rowUnits;
        for (int e = Grid.GlobalIndex.X; e < ringItems; e += stride)
        {
            int s = e / (rowsPerSegment * rowUnits);
            int rest = e % (rowsPerSegment * rowUnits);
            int back = rest / rowUnits;
            int c = rest % rowUnits;
            int length = seg.Length[s];
            if (back >= length || back >= window)
            {
                continue;
            }

            // back = 0 is the segment's last token, back = W - 1 the oldest one that stays in the ring.
            int i = length - 1 - back;
            int row = (seg.Start[s] + i) * rowUnits + c;
            int ringSlot = (int)((seg.Position[s] + i) % window);
            int dst = (seg.Slot[s] * window + ringSlot) * rowUnits + c;
            a.RingK[dst] = a.KRotated[row];
            a.RingV[dst] = a.V[row];
        }

        for (int e = Grid.GlobalIndex.X; a.WriteField != 0 && e < seg.Count * channels; e += stride)
        {
            int s = e / channels;
            a.Field[seg.Slot[s] * channels + e % channels] = a.Final[e];
        }
    }
}
