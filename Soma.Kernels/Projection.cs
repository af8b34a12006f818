using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// The one projection tile loop, shared by the QKV and the output projection: a tiled matrix product over token
/// rows and a row-major weight W[M, K] whose epilogue (bias, head split, RoPE) is a struct type parameter
/// (<see cref="IProjectionEpilogue"/>), as is the weights' storage (<see cref="IElementView"/>: every weight is read
/// through its <c>Load</c>, widened to fp32). Each group owns a tile of <see cref="TileRows"/> rows by (group size x
/// columns per thread) output columns, stages the rows' inputs in dynamic shared memory and loops grid-stride over
/// tiles. With <see cref="ProjectionTiling.RowTiles"/> &gt; 1 a group covers that many row tiles of the same columns,
/// its threads split in as many sets (batched decode: every weight chunk staged once for all the block's rows). With <see cref="ProjectionTiling.StageWeights"/> (GPUs) each chunk of K also stages the tile's weight rows
/// (and their RoPE / SwiGLU partners) in shared memory, read along K by consecutive threads (coalesced) and padded
/// against bank conflicts; otherwise each thread reads its own weight row along K (the CPU accelerator).
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
                Stage(shared, a.X, a.Rows, a.Inner, a.Inner, at.Block0, 0, a.Inner, tiling.BlockRows);
                Group.Barrier();
            }

            for (int ci = 0; ci < tiling.ColumnsPerThread; ci++)
            {
                var column = epilogue.Column(at.ColBase + ci * at.Lanes, a.Outer);
                TileAccumulators acc = default;
                TileAccumulators accPartner = default;
                if (staged)
                {
                    if (column.Active)
                    {
                        Dot(shared, at.TileRow * a.Inner, weight, a.Inner, a.Inner, 0, a.Inner, column, ref acc, ref accPartner);
                    }
                }
                else
                {
                    AccumulateChunks(shared, a, weight, epilogue, at, column, ref acc, ref accPartner);
                }

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
    /// acc[r] = sum over the tile's K range of x[row0 + r, k] * W[col, k] (and the same for the partner when paired),
    /// the rows (and with <see cref="ProjectionTiling.StageWeights"/> the weights) staged chunk by chunk with two
    /// barriers per chunk: every thread of the group must call it.
    /// </summary>
    private static void AccumulateChunks<TWeights, TEpilogue>(
        ArrayView<float> shared, ProjectionArgs a, TWeights weight, TEpilogue epilogue, TilePosition at, ProjectionColumn column,
        ref TileAccumulators acc, ref TileAccumulators accPartner)
        where TWeights : struct, IElementView
        where TEpilogue : struct, IProjectionEpilogue
    {
        int chunkK = a.Tiling.ChunkK;
        bool stageWeights = a.Tiling.StageWeights != 0;
        int stride = chunkK + 1;
        int blockRows = a.Tiling.BlockRows;
        int tile = at.TileRow * chunkK;
        int own = blockRows * chunkK + (Group.IdxX % at.Lanes) * stride;
        int partner = own + at.Lanes * stride;
        for (int k0 = at.KBegin; k0 < at.KEnd; k0 += chunkK)
        {
            int chunk = XMath.Min(chunkK, at.KEnd - k0);
            Stage(shared, a.X, a.Rows, a.Inner, at.KEnd, at.Block0, k0, chunkK, blockRows);
            if (stageWeights)
            {
                StageWeightRows(shared, blockRows * chunkK, weight, epilogue, a, at.ColTile, at.Lanes, k0, chunk, stride);
            }

            Group.Barrier();
            if (column.Active && stageWeights)
            {
                for (int k = 0; k < chunk; k++)
                {
                    acc.AddColumn(shared, tile + k, chunkK, shared[own + k]);
                    if (column.Paired)
                    {
                        accPartner.AddColumn(shared, tile + k, chunkK, shared[partner + k]);
                    }
                }
            }
            else if (column.Active)
            {
                Dot(shared, tile, weight, chunkK, a.Inner, k0, chunk, column, ref acc, ref accPartner);
            }

            Group.Barrier();
        }
    }

    /// <summary>
    /// shared[first + t * stride + k] = W[col(t), k0 + k] and, <paramref name="lanes"/> x stride further,
    /// W[partner(t), k0 + k] for the tile's <paramref name="lanes"/> columns t (col(t) from the epilogue's column
    /// <paramref name="colTile"/> + t; zero where a column is inactive or unpaired), k &lt; <paramref name="chunk"/>:
    /// consecutive threads read consecutive k of a weight row (coalesced), each weight once for all the block's row
    /// tiles; the stride (chunk + 1) spreads a warp's reads of one k over the banks. Group-cooperative.
    /// </summary>
    private static void StageWeightRows<TWeights, TEpilogue>(
        ArrayView<float> shared, int first, TWeights weight, TEpilogue epilogue, ProjectionArgs a, int colTile, int lanes, int k0, int chunk, int stride)
        where TWeights : struct, IElementView
        where TEpilogue : struct, IProjectionEpilogue
    {
        for (int e = Group.IdxX; e < lanes * chunk; e += Group.DimX)
        {
            int t = e / chunk;
            int k = e % chunk;
            var c = epilogue.Column(colTile + t, a.Outer);
            int at = first + t * stride + k;
            shared[at] = c.Active ? weight.Load(c.Col * a.Inner + k0 + k) : 0f;
            shared[at + lanes * stride] = c.Active && c.Paired ? weight.Load(c.Partner * a.Inner + k0 + k) : 0f;
        }
    }

    /// <summary>shared[r * width + k] = x[row0 + r, k0 + k] for r &lt; <paramref name="count"/>, k &lt; width (zero past row <paramref name="rows"/> or column <paramref name="kEnd"/>); group-cooperative.</summary>
    private static void Stage(ArrayView<float> shared, ArrayView<float> x, int rows, int stride, int kEnd, int row0, int k0, int width, int count)
    {
        for (int e = Group.IdxX; e < count * width; e += Group.DimX)
        {
            int r = e / width;
            int k = e % width;
            int t = row0 + r;
            shared[e] = t < rows && k0 + k < kEnd ? x[t * stride + k0 + k] : 0f;
        }
    }

    /// <summary>Accumulates <paramref name="count"/> staged inputs (the row tile at <paramref name="tile"/>, row stride <paramref name="width"/>) against W[col, k0..] (and W[partner, k0..]): each thread reads its own weight rows along K.</summary>
    private static void Dot<TWeights>(
        ArrayView<float> shared, int tile, TWeights weight, int width, int inner, int k0, int count, ProjectionColumn column,
        ref TileAccumulators acc, ref TileAccumulators accPartner)
        where TWeights : struct, IElementView
    {
        bool paired = column.Paired;
        for (int k = 0; k < count; k++)
        {
            acc.AddColumn(shared, tile + k, width, weight.Load(column.Col * inner + k0 + k));
            if (paired)
            {
                accPartner.AddColumn(shared, tile + k, width, weight.Load(column.Partner * inner + k0 + k));
            }
        }
    }
}
