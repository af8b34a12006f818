using ILGPU;

namespace Soma.Kernels;

/// <summary>The residual stream's update after attention and after the MLP.</summary>
internal static class ResidualAdd
{
    // h[e] += a[e]; launch: any explicit group shape, grid-stride over count.
    public static void Kernel(ArrayView<float> h, ArrayView<float> a, int count)
    {
        for (int e = Grid.GlobalIndex.X; e < count; e += Grid.DimX * Group.DimX)
        {
            h[e] += a[e];
        }
    }
}
