using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// Reductions over a warp's lanes by butterfly shuffles (<c>Warp.ShuffleXor</c>): every lane ends with the result;
/// the warp size is read at run time (any power of two, 1 included). Every lane of the warp must call them.
/// </summary>
internal static class WarpReduce
{
    /// <summary>The sum of <paramref name="value"/> over the warp's lanes, in every lane.</summary>
    /// <param name="value">This lane's value.</param>
    public static float Sum(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
        {
            value += Warp.ShuffleXor(value, offset);
        }

        return value;
    }

    /// <summary>The max of <paramref name="value"/> over the warp's lanes, in every lane.</summary>
    /// <param name="value">This lane's value.</param>
    public static float Max(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset /= 2)
        {
            value = XMath.Max(value, Warp.ShuffleXor(value, offset));
        }

        return value;
    }
}
