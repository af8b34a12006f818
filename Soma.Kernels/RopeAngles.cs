using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// Rotary-embedding angle tables. The angle p * f_j is formed and reduced modulo 2 pi in double precision, so the
/// table stays accurate at positions near 10^6 (an fp32 product p * f is off by about 0.008 rad at 64K); only the
/// reduced angle in [-pi, pi) goes through the fp32 cosine and sine.
/// </summary>
internal static class RopeAngles
{
    private const double TwoPi = 2.0 * Math.PI;

    // cos|sin[t, j] = cos|sin((p_t * invFreq_j) mod 2pi); launch: any explicit group shape, grid-stride over n * half.
    public static void TableKernel(RopeTableArgs a)
    {
        int half = a.Half;
        int total = a.Tokens * half;
        for (int e = Grid.GlobalIndex.X; e < total; e += Grid.DimX * Group.DimX)
        {
            int t = e / half;
            int j = e % half;
            double angle = a.Positions[t] * a.InverseFrequencies[j];
            double turns = angle / TwoPi;
            double reduced = angle - TwoPi * (long)turns;
            if (reduced >= Math.PI)
            {
                reduced -= TwoPi;
            }

            float r = (float)reduced;
            a.Cos[e] = XMath.Cos(r);
            a.Sin[e] = XMath.Sin(r);
        }
    }
}
