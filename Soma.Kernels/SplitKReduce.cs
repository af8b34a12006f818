using ILGPU;

namespace Soma.Kernels;

/// <summary>The second half of a split-K projection: adds the slices' partial sums and runs the epilogue.</summary>
internal static class SplitKReduce
{
    // out[t, c] = epilogue(sum_s partial[s, t, c]); launch: any explicit group shape, grid-stride over n * M.
    public static void Kernel<TEpilogue>(ProjectionArgs a, TEpilogue epilogue)
        where TEpilogue : struct, IProjectionEpilogue
    {
        for (int e = Grid.GlobalIndex.X; e < a.Rows * a.Outer; e += Grid.DimX * Group.DimX)
        {
            int t = e / a.Outer;
            var column = epilogue.Column(e % a.Outer, a.Outer);
            if (!column.Active)
            {
                continue;
            }

            float sum = 0f;
            float partnerSum = 0f;
            for (int s = 0; s < a.Tiling.KSlices; s++)
            {
                int p = (s * a.Rows + t) * a.Outer;
                sum += a.Partial[p + column.Col];
                partnerSum += column.Paired ? a.Partial[p + column.Partner] : 0f;
            }

            epilogue.Write(column, t, sum, partnerSum);
        }
    }
}
