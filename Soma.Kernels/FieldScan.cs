using ILGPU;

namespace Soma.Kernels;

/// <summary>
/// The far field's decaying state S_g &lt;- gamma_g S_g + (1 - gamma_g) k_g, evaluated over a chunk as a blocked
/// parallel scan of the linear recurrence (never through gamma^-i, which overflows). The state and the scan are
/// fp64: with gamma near 1 each step moves S by (1 - gamma)(k - S), only a few hundred fp32 ulps of S, and fp32
/// rounding drifted (outputs 1.2e-4 off the reference after 5e4 repeated tokens at gamma = 0.99999, see
/// docs/semantics.md); gamma and 1 - gamma are widened from the stored fp32 gamma exactly as the reference does.
/// Attention reads the state before each token rounded once to fp32.
/// </summary>
internal static class FieldScan
{
    /// <summary>Dynamic shared memory (doubles) a launch with this group size needs.</summary>
    public static int SharedDoubles(int groupSize) => 2 * groupSize;

    // prev[t] = (float)S before token t, final[s] = S after the segment, S_t = gamma S_{t-1} + (1-gamma) k_t, all in fp64;
    // launch: one group per (segment, channel) grid-stride, each thread scans a contiguous block of the segment's tokens.
    public static void ScanKernel(FieldScanArgs a)
    {
        var seg = a.Segments;
        int channels = a.Channels;
        var shared = SharedMemory.GetDynamic<double>();
        int groupSize = Group.DimX;
        int lane = Group.IdxX;
        for (int item = Grid.IdxX; item < seg.Count * channels; item += Grid.DimX)
        {
            int s = item / channels;
            int c = item % channels;
            double g = a.Gamma[c / a.HeadDim];
            double oneMinus = 1.0 - g;
            int start = seg.Start[s];
            int length = seg.Length[s];
            int block = (length + groupSize - 1) / groupSize;
            int lo = lane * block;
            int hi = lo + block < length ? lo + block : length;

            // Phase 1: each thread's block from a zero start: decay product and end value.
            double decay = 1.0;
            double local = 0.0;
            for (int i = lo; i < hi; i++)
            {
                local = g * local + oneMinus * a.KRaw[(start + i) * channels + c];
                decay *= g;
            }

            shared[lane] = decay;
            shared[groupSize + lane] = local;
            Group.Barrier();

            // Phase 2: the state entering this thread's block, from the slot's state and the blocks before it.
            double carry = a.Field[seg.Slot[s] * channels + c];
            for (int b = 0; b < lane; b++)
            {
                carry = shared[b] * carry + shared[groupSize + b];
            }

            // Phase 3: rescan the block from its true start, writing the state before each token.
            for (int i = lo; i < hi; i++)
            {
                int row = (start + i) * channels + c;
                a.Prev[row] = (float)carry;
                carry = g * carry + oneMinus * a.KRaw[row];
            }

            if (lane == groupSize - 1)
            {
                a.Final[s * channels + c] = carry;
            }

            Group.Barrier();
        }
    }
}
