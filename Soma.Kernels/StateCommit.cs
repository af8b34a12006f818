using ILGPU;

namespace Soma.Kernels;

/// <summary>
/// The last step of every call: the chunk's last min(W, n) rotated keys and values go into their ring slots and the
/// field takes its end-of-chunk value (fp64, as the scan computed it). Nothing in a session's state changes before this launch.
/// Ring rows are copied as raw 16-bit units: the QKV epilogue already wrote them in the ring's storage type, so the
/// commit rounds nothing and one kernel serves every type. The same thread first copies each element it overwrites into
/// the save area (only an element no earlier pass of the call wrote), so the save costs no launch and no copy; the
/// restore of a failed call is this kernel run backwards (<see cref="CommitArgs.Restore"/>).
/// </summary>
internal static class StateCommit
{
    // ring[slot, (p0+i) mod W] = (k, v)[start+i] for i >= n - W (in 16-bit units); field[slot] = final[s] (when writeField);
    // before each write, the old element goes to save[row of the session + (done + i) mod W] when (i mod W) < W - done
    // (done: the session's rows committed by earlier passes; its slot (p0+i) mod W was not written before in the call).
    // Restore: the segments are the call's sessions from their first position, and ring/field = save (same indexing).
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
            int ringSlot = (int)((seg.Position[s] + i) % window);
            int dst = (seg.Slot[s] * window + ringSlot) * rowUnits + c;
            int done = s == 0 ? a.FirstDone : 0;
            int saved = (SaveRow(a, s) + (int)(((long)done + i) % window)) * rowUnits + c;
            if (a.Restore != 0)
            {
                a.RingK[dst] = a.SaveK[saved];
                a.RingV[dst] = a.SaveV[saved];
                continue;
            }

            if (i % window < window - done)
            {
                a.SaveK[saved] = a.RingK[dst];
                a.SaveV[saved] = a.RingV[dst];
            }

            int row = (seg.Start[s] + i) * rowUnits + c;
            a.RingK[dst] = a.KRotated[row];
            a.RingV[dst] = a.V[row];
        }

        for (int e = Grid.GlobalIndex.X; a.WriteField != 0 && e < seg.Count * channels; e += stride)
        {
            int s = e / channels;
            int dst = seg.Slot[s] * channels + e % channels;
            int saved = (a.FirstSession + s) * channels + e % channels;
            if (a.Restore != 0)
            {
                a.Field[dst] = a.SaveField[saved];
                continue;
            }

            if (s > 0 || a.FirstDone == 0)
            {
                a.SaveField[saved] = a.Field[dst];
            }

            a.Field[dst] = a.Final[e];
        }
    }

    /// <summary>The first save row of segment <paramref name="s"/>'s session: a segment after the first holds all its rows.</summary>
    private static int SaveRow(CommitArgs a, int s) =>
        s == 0 ? a.SaveFirst : a.SaveNext + a.Segments.Start[s] - a.Segments.Length[0];
}
