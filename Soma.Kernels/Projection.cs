using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// The one projection tile loop, shared by the QKV and the output projection: a tiled matrix product over token
/// rows and a row-major weight W[M, K] whose epilogue (bias, head split, RoPE) is a struct type parameter (<see cref="IProjectionEpilogue"/>), as is
/// the weights' storage (<see cref="IElementView"/>: every weight is read through its <c>Load</c>, widened to fp32). Each
/// group owns a tile of <see cref="TileRows"/> rows by (group size x columns per thread) output columns, stages the
/// rows' inputs in dynamic shared memory and loops grid-stride over tiles. Decode uses it with one row per sequence
/// (a batched matrix-vector product).
/// </summary>
internal static class Projection
{
    /// <summary>Rows per tile: each thread keeps this many accumulators (two sets where RoPE pairs columns).</summary>
    public const int TileRows = 8;

    // out[t, c] = epilogue(x[t] . W[c, :]) (or split-K partial sums); launch: groups of G threads, 8 rows x G*cpt columns (x K slice) per tile, grid-stride.
    public static void TileKernel<TWeights, TEpilogue>(ProjectionArgs a, TWeights weight, TEpilogue epilogue)
        where TWeights : struct, IElementView
        where TEpilogue : struct, IProjectionEpilogue
    {
        var shared = SharedMemory.GetDynamic<float>();
        var tiling = a.Tiling;
        bool staged = tiling.ChunkK >= a.Inner;
        for (int item = Grid.IdxX; item < TilePosition.Count(a.Rows, a.Outer, tiling); item += Grid.DimX)
        {
            var at = TilePosition.Of(item, a.Outer, a.Inner, tiling);
            if (staged)
            {
                Stage(shared, a.X, a.Rows, a.Inner, a.Inner, at.Row0, 0, a.Inner);
                Group.Barrier();
            }

            for (int ci = 0; ci < tiling.ColumnsPerThread; ci++)
            {
                var column = epilogue.Column(at.ColBase + ci * Group.DimX, a.Outer);
                TileAccumulators acc = default;
                TileAccumulators accPartner = default;
                Accumulate(shared, a, weight, at, column, staged, ref acc, ref accPartner);
                for (int r = 0; column.Active && r < TileRows && at.Row0 + r < a.Rows; r++)
                {
                    if (tiling.KSlices > 1)
                    {
                        int p = (at.Slice * a.Rows + at.Row0 + r) * a.Outer;
                        a.Partial[p + column.Col] = acc.Get(r);
                        if (column.Paired)
                        {
                            a.Partial[p + column.Partner] = accPartner.Get(r);
                        }
                    }
                    else
                    {
                        epilogue.Write(column, at.Row0 + r, acc.Get(r), accPartner.Get(r));
                    }
                }
            }

            if (staged)
            {
                Group.Barrier();
            }
        }
    }

    /// <summary>
    /// acc[r] = sum over the tile's K range of x[row0 + r, k] * W[col, k] (and the same for the partner when paired).
    /// With <paramref name="staged"/> the whole rows already sit in shared memory; otherwise every thread of the group
    /// must call it, as it stages them chunk by chunk with two barriers per chunk.
    /// </summary>
    private static void Accumulate<TWeights>(
        ArrayView<float> shared, ProjectionArgs a, TWeights weight, TilePosition at, ProjectionColumn column, bool staged,
        ref TileAccumulators acc, ref TileAccumulators accPartner)
        where TWeights : struct, IElementView
    {
        if (staged)
        {
            if (column.Active)
            {
                Dot(shared, weight, a.Inner, a.Inner, 0, a.Inner, column, ref acc, ref accPartner);
            }

            return;
        }

        int chunkK = a.Tiling.ChunkK;
        for (int k0 = at.KBegin; k0 < at.KEnd; k0 += chunkK)
        {
            int chunk = XMath.Min(chunkK, at.KEnd - k0);
            Stage(shared, a.X, a.Rows, a.Inner, at.KEnd, at.Row0, k0, chunkK);
            Group.Barrier();
            if (column.Active)
            {
                Dot(shared, weight, chunkK, a.Inner, k0, chunk, column, ref acc, ref accPartner);
            }

            Group.Barrier();
        }
    }

    /// <summary>shared[r * width + k] = x[row0 + r, k0 + k] for k &lt; width (zero past row <paramref name="rows"/> or column <paramref name="kEnd"/>); group-cooperative.</summary>
    private static void Stage(ArrayView<float> shared, ArrayView<float> x, int rows, int stride, int kEnd, int row0, int k0, int width)
    {
        for (int e = Group.IdxX; e < TileRows * width; e += Group.DimX)
        {
            int r = e / width;
            int k = e % width;
            int t = row0 + r;
            shared[e] = t < rows && k0 + k < kEnd ? x[t * stride + k0 + k] : 0f;
        }
    }

    /// <summary>Accumulates <paramref name="count"/> staged inputs (row stride <paramref name="width"/>) against W[col, k0..] (and W[partner, k0..]): each thread reads its own weight rows along K.</summary>
    private static void Dot<TWeights>(
        ArrayView<float> shared, TWeights weight, int width, int inner, int k0, int count, ProjectionColumn column,
        ref TileAccumulators acc, ref TileAccumulators accPartner)
        where TWeights : struct, IElementView
    {
        bool paired = column.Paired;
        for (int k = 0; k < count; k++)
        {
            acc.AddColumn(shared, k, width, weight.Load(column.Col * inner + k0 + k));
            if (paired)
            {
                accPartner.AddColumn(shared, k, width, weight.Load(column.Partner * inner + k0 + k));
            }
        }
    }
}
