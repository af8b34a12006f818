using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// Rotary-embedding angles. The angle p * f_j is formed and reduced modulo 2 pi in double precision
/// (<see cref="Reduced"/>), so it stays accurate at positions near 10^6 (an fp32 product p * f is off by about 0.008 rad
/// at 64K); only the reduced angle in [-pi, pi) goes through the fp32 cosine and sine. A prefill pass tabulates them
/// once per (row, j) (<see cref="TableKernel"/>); a decode pass computes them where q and k are rotated
/// (<see cref="BiasRopeEpilogue{TRing}"/>), from the same helper, so both give the same bits.
/// </summary>
internal static class RopeAngles
{
    private const double TwoPi = 2.0 * Math.PI;

    /// <summary>(<paramref name="position"/> * <paramref name="inverseFrequency"/>) mod 2 pi in [-pi, pi), formed in double, rounded once to fp32.</summary>
    /// <param name="position">Absolute position p of the token.</param>
    /// <param name="inverseFrequency">Inverse frequency f_j (double, as the layer stores it).</param>
    public static float Reduced(long position, double inverseFrequency)
    {
        double angle = position * inverseFrequency;
        double turns = angle / TwoPi;
        double reduced = angle - TwoPi * (long)turns;
        if (reduced >= Math.PI)
        {
            reduced -= TwoPi;
        }

        return (float)reduced;
    }

    // cos|sin[t, j] = cos|sin((p_t * invFreq_j) mod 2pi); launch: any explicit group shape, grid-stride over n * half.
    public static void TableKernel(RopeTableArgs a)
    {
        int half = a.Half;
        int total = a.Tokens * half;
        for (int e = Grid.GlobalIndex.X; e < total; e += Grid.DimX * Group.DimX)
        {
            float r = Reduced(a.Positions[e / half], a.InverseFrequencies[e % half]);
            a.Cos[e] = XMath.Cos(r);
            a.Sin[e] = XMath.Sin(r);
        }
    }
}
