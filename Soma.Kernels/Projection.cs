using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>Shape of one QKV projection launch.</summary>
internal struct QkvProjectionArgs
{
    /// <summary>Input rows x[n, D].</summary>
    public ArrayView<float> X;
    /// <summary>Transposed fused weight Wqkv^T[D, M], M = (H + 2 Hkv) dh; columns are q heads, k heads, v heads.</summary>
    public ArrayView<float> WeightT;
    /// <summary>Fused bias b[M] (zeros when the layer has none).</summary>
    public ArrayView<float> Bias;
    /// <summary>RoPE cosines cos[n, dh/2] (unused without RoPE).</summary>
    public ArrayView<float> Cos;
    /// <summary>RoPE sines sin[n, dh/2] (unused without RoPE).</summary>
    public ArrayView<float> Sin;
    /// <summary>Output q[n, H, dh], rotated.</summary>
    public ArrayView<float> Q;
    /// <summary>Output k[n, Hkv, dh], rotated (what the ring stores).</summary>
    public ArrayView<float> KRotated;
    /// <summary>Output k[n, Hkv, dh] before rotation (what the field integrates).</summary>
    public ArrayView<float> KRaw;
    /// <summary>Output v[n, Hkv, dh].</summary>
    public ArrayView<float> V;
    /// <summary>Token count n.</summary>
    public int Tokens;
    /// <summary>Model width D.</summary>
    public int ModelDim;
    /// <summary>Query heads H.</summary>
    public int Heads;
    /// <summary>Key/value heads Hkv.</summary>
    public int KvHeads;
    /// <summary>Head dimension dh.</summary>
    public int HeadDim;
    /// <summary>1 when RoPE rotates q and k, else 0.</summary>
    public int Rope;
    /// <summary>Tiling chosen on the host.</summary>
    public ProjectionTiling Tiling;
    /// <summary>Split-K partial sums [KSlices, n, M] (used when <see cref="ProjectionTiling.KSlices"/> &gt; 1).</summary>
    public ArrayView<float> Partial;
}

/// <summary>Shape of one plain linear launch y = x W^T + b.</summary>
internal struct LinearArgs
{
    /// <summary>Input rows x[n, K].</summary>
    public ArrayView<float> X;
    /// <summary>Transposed weight W^T[K, M].</summary>
    public ArrayView<float> WeightT;
    /// <summary>Bias b[M] (zeros when the layer has none).</summary>
    public ArrayView<float> Bias;
    /// <summary>Output y[n, M].</summary>
    public ArrayView<float> Y;
    /// <summary>Rows n.</summary>
    public int Rows;
    /// <summary>Input width K.</summary>
    public int Inner;
    /// <summary>Output width M.</summary>
    public int Outer;
    /// <summary>Tiling chosen on the host.</summary>
    public ProjectionTiling Tiling;
    /// <summary>Split-K partial sums [KSlices, n, M] (used when <see cref="ProjectionTiling.KSlices"/> &gt; 1).</summary>
    public ArrayView<float> Partial;
}

/// <summary>
/// How a projection launch tiles its work: a tile is <see cref="Projection.TileRows"/> rows by
/// (group size x <see cref="ColumnsPerThread"/>) columns; the rows' inputs go through shared memory
/// <see cref="ChunkK"/> at a time. When ChunkK covers the whole input width the rows are staged once per tile and
/// each thread may own several columns (the CPU accelerator's shape: few barriers); otherwise each thread owns one
/// column and accumulates across chunks (GPUs, where shared memory is small). With <see cref="KSlices"/> &gt; 1
/// (decode: too few row tiles to fill a GPU) the input width is also split across groups, each writing partial sums
/// that a reduce kernel adds up before the epilogue.
/// </summary>
internal struct ProjectionTiling
{
    /// <summary>Input elements per row staged at a time.</summary>
    public int ChunkK;
    /// <summary>Columns each thread owns per tile (1 unless ChunkK covers the whole input width).</summary>
    public int ColumnsPerThread;
    /// <summary>Slices of the input width computed by separate groups (1: no split-K).</summary>
    public int KSlices;

    /// <summary>Dynamic shared memory (floats) a launch with this tiling needs.</summary>
    public readonly int SharedFloats => Projection.TileRows * ChunkK;
}

/// <summary>
/// Projection kernels: tiled matrix products over token rows, with bias, head split and RoPE fused into the
/// epilogue. Each group owns a tile of <see cref="TileRows"/> rows by (group size x columns per thread) output
/// columns, stages the rows' inputs in dynamic shared memory and loops grid-stride over tiles.
/// Decode uses the same kernels with one row per sequence (a batched matrix-vector product).
/// </summary>
internal static class Projection
{
    /// <summary>Rows per tile: each thread keeps this many accumulators (two sets where RoPE pairs columns).</summary>
    public const int TileRows = 8;

    // q|k|v[t, head, j] = RoPE_t(x[t] . WqkvT[:, c] + b[c]); launch: groups of G threads, 4 rows x G*cpt columns (x K slice) per tile, grid-stride.
    public static void QkvKernel(QkvProjectionArgs a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int outer = (a.Heads + 2 * a.KvHeads) * a.HeadDim;
        var tiling = a.Tiling;
        bool staged = tiling.ChunkK >= a.ModelDim;
        for (int item = Grid.IdxX; item < TilePosition.Count(a.Tokens, outer, tiling); item += Grid.DimX)
        {
            var at = TilePosition.Of(item, outer, a.ModelDim, tiling);
            int row0 = at.Row0, colBase = at.ColBase, slice = at.Slice, kBegin = at.KBegin, kEnd = at.KEnd;
            if (staged)
            {
                Stage(shared, a.X, a.Tokens, a.ModelDim, a.ModelDim, row0, 0, a.ModelDim);
                Group.Barrier();
            }

            for (int ci = 0; ci < tiling.ColumnsPerThread; ci++)
            {
                int col = colBase + ci * Group.DimX;
                var column = QkvColumn.Of(a, col, outer);
                TileAccumulators acc = default;
                TileAccumulators accPartner = default;
                Accumulate(
                    shared, a.X, a.WeightT, a.Tokens, a.ModelDim, outer, row0, column.Col, column.Partner,
                    column.Active, column.Rotated, staged, tiling.ChunkK, kBegin, kEnd, ref acc, ref accPartner);
                for (int r = 0; column.Active && r < TileRows && row0 + r < a.Tokens; r++)
                {
                    if (tiling.KSlices > 1)
                    {
                        int p = (slice * a.Tokens + row0 + r) * outer;
                        a.Partial[p + column.Col] = acc.Get(r);
                        if (column.Rotated)
                        {
                            a.Partial[p + column.Partner] = accPartner.Get(r);
                        }
                    }
                    else
                    {
                        WriteQkvRow(a, column, row0 + r, acc.Get(r), accPartner.Get(r));
                    }
                }
            }

            if (staged)
            {
                Group.Barrier();
            }
        }
    }

    // q|k|v[t, head, j] = RoPE_t(sum_s partial[s, t, c] + b[c]); launch: any explicit group shape, grid-stride over n * M.
    public static void QkvReduceKernel(QkvProjectionArgs a)
    {
        int outer = (a.Heads + 2 * a.KvHeads) * a.HeadDim;
        for (int e = Grid.GlobalIndex.X; e < a.Tokens * outer; e += Grid.DimX * Group.DimX)
        {
            int t = e / outer;
            var column = QkvColumn.Of(a, e % outer, outer);
            if (!column.Active)
            {
                continue;
            }

            float x1 = 0f;
            float x2 = 0f;
            for (int s = 0; s < a.Tiling.KSlices; s++)
            {
                int p = (s * a.Tokens + t) * outer;
                x1 += a.Partial[p + column.Col];
                x2 += column.Rotated ? a.Partial[p + column.Partner] : 0f;
            }

            WriteQkvRow(a, column, t, x1, x2);
        }
    }

    // y[t, c] = x[t] . WT[:, c] + b[c]; launch: groups of G threads, 4 rows x G*cpt columns (x K slice) per tile, grid-stride.
    public static void LinearKernel(LinearArgs a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        var tiling = a.Tiling;
        bool staged = tiling.ChunkK >= a.Inner;
        for (int item = Grid.IdxX; item < TilePosition.Count(a.Rows, a.Outer, tiling); item += Grid.DimX)
        {
            var at = TilePosition.Of(item, a.Outer, a.Inner, tiling);
            int row0 = at.Row0, colBase = at.ColBase, slice = at.Slice, kBegin = at.KBegin, kEnd = at.KEnd;
            if (staged)
            {
                Stage(shared, a.X, a.Rows, a.Inner, a.Inner, row0, 0, a.Inner);
                Group.Barrier();
            }

            for (int ci = 0; ci < tiling.ColumnsPerThread; ci++)
            {
                int col = colBase + ci * Group.DimX;
                bool active = col < a.Outer;
                TileAccumulators acc = default;
                TileAccumulators unused = default;
                Accumulate(
                    shared, a.X, a.WeightT, a.Rows, a.Inner, a.Outer, row0, col, col,
                    active, false, staged, tiling.ChunkK, kBegin, kEnd, ref acc, ref unused);
                for (int r = 0; active && r < TileRows && row0 + r < a.Rows; r++)
                {
                    if (tiling.KSlices > 1)
                    {
                        a.Partial[(slice * a.Rows + row0 + r) * a.Outer + col] = acc.Get(r);
                    }
                    else
                    {
                        a.Y[(row0 + r) * a.Outer + col] = acc.Get(r) + a.Bias[col];
                    }
                }
            }

            if (staged)
            {
                Group.Barrier();
            }
        }
    }

    // y[t, c] = sum_s partial[s, t, c] + b[c]; launch: any explicit group shape, grid-stride over n * M.
    public static void LinearReduceKernel(LinearArgs a)
    {
        for (int e = Grid.GlobalIndex.X; e < a.Rows * a.Outer; e += Grid.DimX * Group.DimX)
        {
            float y = a.Bias[e % a.Outer];
            for (int s = 0; s < a.Tiling.KSlices; s++)
            {
                y += a.Partial[s * a.Rows * a.Outer + e];
            }

            a.Y[e] = y;
        }
    }

    /// <summary>
    /// acc[r] = sum_{k in [kBegin, kEnd)} x[row0 + r, k] * WT[k, col] (and the same for <paramref name="partner"/> when
    /// <paramref name="paired"/>). With <paramref name="staged"/> the whole rows already sit in shared memory;
    /// otherwise every thread of the group must call it, as it stages them chunk by chunk with two barriers per chunk.
    /// </summary>
    private static void Accumulate(
        ArrayView<float> shared, ArrayView<float> x, ArrayView<float> weightT,
        int rows, int inner, int outer, int row0, int col, int partner,
        bool active, bool paired, bool staged, int chunkK, int kBegin, int kEnd,
        ref TileAccumulators acc, ref TileAccumulators accPartner)
    {
        if (staged)
        {
            if (active)
            {
                Dot(shared, weightT, inner, outer, 0, inner, col, partner, paired, ref acc, ref accPartner);
            }

            return;
        }

        for (int k0 = kBegin; k0 < kEnd; k0 += chunkK)
        {
            int chunk = XMath.Min(chunkK, kEnd - k0);
            Stage(shared, x, rows, inner, kEnd, row0, k0, chunkK);
            Group.Barrier();
            if (active)
            {
                Dot(shared, weightT, chunkK, outer, k0, chunk, col, partner, paired, ref acc, ref accPartner);
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

    /// <summary>Accumulates <paramref name="count"/> staged inputs (row stride <paramref name="width"/>) against weight rows k0.. of the column(s).</summary>
    private static void Dot(
        ArrayView<float> shared, ArrayView<float> weightT, int width, int outer, int k0, int count, int col, int partner, bool paired,
        ref TileAccumulators acc, ref TileAccumulators accPartner)
    {
        for (int k = 0; k < count; k++)
        {
            int w = (k0 + k) * outer;
            float wc = weightT[w + col];
            float wp = paired ? weightT[w + partner] : 0f;
            for (int r = 0; r < TileRows; r++)
            {
                float x = shared[r * width + k];
                acc.Add(r, x * wc);
                if (paired)
                {
                    accPartner.Add(r, x * wp);
                }
            }
        }
    }

    /// <summary>Bias, RoPE and the head split for one fused column (and its rotate-half partner) of row t.</summary>
    private static void WriteQkvRow(QkvProjectionArgs a, QkvColumn c, int t, float sum, float partnerSum)
    {
        int half = a.HeadDim / 2;
        float x1 = sum + a.Bias[c.Col];
        float x2 = c.Rotated ? partnerSum + a.Bias[c.Partner] : 0f;
        float y1 = x1;
        float y2 = x2;
        if (c.Rotated)
        {
            float cos = a.Cos[t * half + c.J];
            float sin = a.Sin[t * half + c.J];
            y1 = x1 * cos - x2 * sin;
            y2 = x2 * cos + x1 * sin;
        }

        if (c.Section == 0)
        {
            int o = t * a.Heads * a.HeadDim + c.Within;
            a.Q[o] = y1;
            if (c.Rotated)
            {
                a.Q[o + half] = y2;
            }
        }
        else if (c.Section == 1)
        {
            int o = t * a.KvHeads * a.HeadDim + c.Within;
            a.KRaw[o] = x1;
            a.KRotated[o] = y1;
            if (c.Rotated)
            {
                a.KRaw[o + half] = x2;
                a.KRotated[o + half] = y2;
            }
        }
        else
        {
            a.V[t * a.KvHeads * a.HeadDim + c.Within] = y1;
        }
    }

    /// <summary>Where fused column <see cref="Col"/> goes: q, k or v (section 0, 1, 2), its head offset and RoPE partner.</summary>
    private struct QkvColumn
    {
        public int Col;
        public int Partner;
        public int Section;
        public int Within;
        public int J;
        public bool Rotated;
        public bool Active;

        public static QkvColumn Of(QkvProjectionArgs a, int col, int outer)
        {
            int qCols = a.Heads * a.HeadDim;
            int kCols = a.KvHeads * a.HeadDim;
            int half = a.HeadDim / 2;
            var c = default(QkvColumn);
            c.Col = col;
            c.Section = col < qCols ? 0 : col < qCols + kCols ? 1 : 2;
            c.Within = c.Section == 0 ? col : c.Section == 1 ? col - qCols : col - qCols - kCols;
            c.J = c.Within % a.HeadDim;
            c.Rotated = a.Rope != 0 && c.Section != 2;

            // With RoPE, the thread of column j < dh/2 also computes its partner j + dh/2; partners stay idle.
            c.Active = col < outer && (!c.Rotated || c.J < half);
            c.Partner = c.Rotated ? col + half : col;
            return c;
        }
    }

    /// <summary>
    /// Where grid-stride work item <c>item</c> of a projection falls: its first row, this thread's first column,
    /// its K slice and that slice's input range. Items run slice-fastest, then column tiles, then row tiles.
    /// </summary>
    private struct TilePosition
    {
        public int Row0;
        public int ColBase;
        public int Slice;
        public int KBegin;
        public int KEnd;

        public static int Count(int rows, int outer, ProjectionTiling tiling)
        {
            int tileCols = Group.DimX * tiling.ColumnsPerThread;
            return ((rows + TileRows - 1) / TileRows) * ((outer + tileCols - 1) / tileCols) * tiling.KSlices;
        }

        public static TilePosition Of(int item, int outer, int inner, ProjectionTiling tiling)
        {
            int tileCols = Group.DimX * tiling.ColumnsPerThread;
            int colTiles = (outer + tileCols - 1) / tileCols;
            int sliceLength = (inner + tiling.KSlices - 1) / tiling.KSlices;
            int tile = item / tiling.KSlices;
            var at = default(TilePosition);
            at.Slice = item % tiling.KSlices;
            at.Row0 = (tile / colTiles) * TileRows;
            at.ColBase = (tile % colTiles) * tileCols + Group.IdxX;
            at.KBegin = at.Slice * sliceLength;
            at.KEnd = XMath.Min(inner, at.KBegin + sliceLength);
            return at;
        }
    }

    /// <summary>Per-thread accumulators, one per tile row, kept in registers (the row loops unroll over constants).</summary>
    private struct TileAccumulators
    {
        public float V0;
        public float V1;
        public float V2;
        public float V3;
        public float V4;
        public float V5;
        public float V6;
        public float V7;

        public readonly float Get(int r) => r switch
        {
            0 => V0,
            1 => V1,
            2 => V2,
            3 => V3,
            4 => V4,
            5 => V5,
            6 => V6,
            _ => V7,
        };

        public void Add(int r, float value)
        {
            switch (r)
            {
                case 0: V0 += value; break;
                case 1: V1 += value; break;
                case 2: V2 += value; break;
                case 3: V3 += value; break;
                case 4: V4 += value; break;
                case 5: V5 += value; break;
                case 6: V6 += value; break;
                default: V7 += value; break;
            }
        }
    }
}
