using ILGPU;

namespace Soma.Kernels;

/// <summary>
/// The far field's decaying state S_g &lt;- gamma_g S_g + (1 - gamma_g) k_g, evaluated over a chunk as a blocked
/// parallel scan of the linear recurrence (never through gamma^-i, which overflows). The state and the scan are
/// fp64: with gamma near 1 each step moves S by (1 - gamma)(k - S), only a few hundred fp32 ulps of S, and fp32
/// rounding drifted (outputs 1.2e-4 off the reference after 5e4 repeated tokens at gamma = 0.99999, see
/// docs/semantics.md); gamma and 1 - gamma are widened from the stored fp32 gamma exactly as the reference does.
/// Attention reads the state before each token rounded once to fp32. A decode pass (one row per segment) takes the
/// same step in the QKV epilogue instead (<see cref="BiasRopeEpilogue{TRing}"/>), through <see cref="OneRow"/>, so it
/// gives the scan's bits without its launch.
/// </summary>
internal static class FieldScan
{
    /// <summary>Dynamic shared memory (doubles) a launch with this group size needs.</summary>
    public static int SharedDoubles(int groupSize) => 2 * groupSize;

    /// <summary>One step of the recurrence in fp64: gamma * <paramref name="state"/> + (1 - gamma) * <paramref name="k"/>.</summary>
    /// <param name="gamma">The channel's decay, widened from fp32.</param>
    /// <param name="oneMinus">1 - gamma, in fp64.</param>
    /// <param name="state">The state before the step.</param>
    /// <param name="k">The raw key.</param>
    public static double Step(double gamma, double oneMinus, double state, double k) => gamma * state + oneMinus * k;

    /// <summary>The state after a block: its <paramref name="decay"/> product times the entering <paramref name="state"/> plus its value from a zero start.</summary>
    /// <param name="decay">The product of the block's gammas.</param>
    /// <param name="state">The state entering the block.</param>
    /// <param name="local">The block's end value from a zero start.</param>
    public static double Combine(double decay, double state, double local) => decay * state + local;

    /// <summary>
    /// The state after a one-row segment exactly as a launch of <see cref="ScanKernel"/> computes it (the row's block
    /// from a zero start, then combined with the entering state; the empty blocks after it only add +0.0): what a
    /// decode pass's QKV epilogue writes instead of launching the scan.
    /// </summary>
    /// <param name="gamma">The channel's decay, widened from fp32.</param>
    /// <param name="oneMinus">1 - gamma, in fp64.</param>
    /// <param name="state">The slot's state before the row.</param>
    /// <param name="k">The row's raw key.</param>
    public static double OneRow(double gamma, double oneMinus, double state, double k) => Combine(gamma, state, Step(gamma, oneMinus, 0.0, k));

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
                local = Step(g, oneMinus, local, a.KRaw[(start + i) * channels + c]);
                decay *= g;
            }

            shared[lane] = decay;
            shared[groupSize + lane] = local;
            Group.Barrier();

            // Phase 2: the state entering this thread's block, from the slot's state and the blocks before it.
            double carry = a.Field[seg.Slot[s] * channels + c];
            for (int b = 0; b < lane; b++)
            {
                carry = Combine(shared[b], carry, shared[groupSize + b]);
            }

            // Phase 3: rescan the block from its true start, writing the state before each token.
            for (int i = lo; i < hi; i++)
            {
                int row = (start + i) * channels + c;
                a.Prev[row] = (float)carry;
                carry = Step(g, oneMinus, carry, a.KRaw[row]);
            }

            if (lane == groupSize - 1)
            {
                a.Final[s * channels + c] = carry;
            }

            Group.Barrier();
        }
    }
}
