using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>The SwiGLU activation between the fused gate|up projection and the down projection.</summary>
internal static class SwiGlu
{
    // y[t, i] = silu(gu[t, i]) * gu[t, I + i], silu(g) = g / (1 + e^-g); launch: any explicit group shape, grid-stride over rows * I.
    public static void Kernel(ArrayView<float> gateUp, ArrayView<float> y, int rows, int inner)
    {
        for (int e = Grid.GlobalIndex.X; e < rows * inner; e += Grid.DimX * Group.DimX)
        {
            int t = e / inner;
            int i = e % inner;
            float g = gateUp[t * 2 * inner + i];
            y[e] = g / (1f + XMath.Exp(-g)) * gateUp[t * 2 * inner + inner + i];
        }
    }
}
