using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// The decode projection: a matrix-vector product for one to <see cref="MaxRows"/> rows over W^T[K, M], with the same
/// epilogues (<see cref="IProjectionEpilogue"/>) and split-K partial sums (<see cref="SplitKReduce"/>) as the tile loop
/// of <see cref="Projection"/>, over weights of any storage type (<see cref="IElementView.LoadQuad"/>). Each thread owns
/// four consecutive output columns, read as one load per input element (fp32: one 128-bit load, a warp reads 512
/// contiguous bytes; fp16/bf16: one 64-bit load, widened in registers), with four loads in flight; the rows' inputs
/// are read directly (every thread of a warp reads the same element). No shared memory, no barriers, no zero rows.
/// </summary>
internal static class Gemv
{
    /// <summary>Most rows one launch serves (each thread keeps 4 x 4 accumulators, twice with RoPE).</summary>
    public const int MaxRows = 4;

    // out[t, c..c+3] = epilogue(x[t] . WT[:, c..c+3]) (or split-K partial sums), t < n <= 4, M % 4 == 0;
    // launch: one thread per (4 columns, K slice), consecutive threads on consecutive columns, grid-stride.
    public static void Kernel<TWeights, TEpilogue>(ProjectionArgs a, TWeights weightT, TEpilogue epilogue)
        where TWeights : struct, IElementView
        where TEpilogue : struct, IProjectionEpilogue
    {
        int quads = a.Outer / 4;
        int slices = a.Tiling.KSlices;
        int sliceLength = (a.Inner + slices - 1) / slices;
        for (int item = Grid.GlobalIndex.X; item < quads * slices; item += Grid.DimX * Group.DimX)
        {
            int col = (item % quads) * 4;
            int slice = item / quads;
            var column = epilogue.Column(col, a.Outer);
            if (!column.Active)
            {
                continue;
            }

            int kBegin = slice * sliceLength;
            int kEnd = XMath.Min(a.Inner, kBegin + sliceLength);
            GemvAccumulators acc = default;
            GemvAccumulators partner = default;
            Accumulate(a, weightT, col / 4, kBegin, kEnd, ref acc);
            if (column.Paired)
            {
                Accumulate(a, weightT, column.Partner / 4, kBegin, kEnd, ref partner);
            }

            for (int r = 0; r < MaxRows && r < a.Rows; r++)
            {
                for (int j = 0; j < 4; j++)
                {
                    if (slices > 1)
                    {
                        int p = (slice * a.Rows + r) * a.Outer;
                        a.Partial[p + col + j] = acc.Get(r, j);
                        if (column.Paired)
                        {
                            a.Partial[p + column.Partner + j] = partner.Get(r, j);
                        }
                    }
                    else
                    {
                        epilogue.Write(epilogue.Column(col + j, a.Outer), r, acc.Get(r, j), partner.Get(r, j));
                    }
                }
            }
        }
    }

    /// <summary>acc[r, 0..3] = sum over k in [kBegin, kEnd) of x[r, k] * WT[k, 4 quad .. 4 quad + 3], k in order, four loads ahead.</summary>
    private static void Accumulate<TWeights>(ProjectionArgs a, TWeights weightT, int quad, int kBegin, int kEnd, ref GemvAccumulators acc)
        where TWeights : struct, IElementView
    {
        int quads = a.Outer / 4;
        int k = kBegin;
        for (; k + 4 <= kEnd; k += 4)
        {
            var w0 = weightT.LoadQuad(k * quads + quad);
            var w1 = weightT.LoadQuad((k + 1) * quads + quad);
            var w2 = weightT.LoadQuad((k + 2) * quads + quad);
            var w3 = weightT.LoadQuad((k + 3) * quads + quad);
            Step(a, k, w0, ref acc);
            Step(a, k + 1, w1, ref acc);
            Step(a, k + 2, w2, ref acc);
            Step(a, k + 3, w3, ref acc);
        }

        for (; k < kEnd; k++)
        {
            Step(a, k, weightT.LoadQuad(k * quads + quad), ref acc);
        }
    }

    /// <summary>Adds input element <paramref name="k"/> of every row times the four weights <paramref name="w"/>.</summary>
    private static void Step(ProjectionArgs a, int k, Float4 w, ref GemvAccumulators acc) =>
        acc.Add(Input(a, 0, k), Input(a, 1, k), Input(a, 2, k), Input(a, 3, k), w);

    /// <summary>x[r, k], or 0 past the launch's rows.</summary>
    private static float Input(ProjectionArgs a, int r, int k) => r < a.Rows ? a.X[r * a.Inner + k] : 0f;
}
