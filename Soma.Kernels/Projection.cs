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
}

/// <summary>
/// Projection kernels: tiled matrix products over token rows, with bias, head split and RoPE fused into the
/// epilogue. Each group owns a tile of <see cref="TileRows"/> rows by (group size) output columns, stages the
/// rows' inputs in dynamic shared memory one K-chunk (group size wide) at a time, and loops grid-stride over tiles.
/// Decode uses the same kernels with one row per sequence (a batched matrix-vector product).
/// </summary>
internal static class Projection
{
    /// <summary>Rows per tile: each thread keeps this many accumulators (two sets where RoPE pairs columns).</summary>
    public const int TileRows = 4;

    /// <summary>Dynamic shared memory (floats) a launch with this group size needs.</summary>
    public static int SharedFloats(int groupSize) => TileRows * groupSize;

    // q|k|v[t, head, j] = RoPE_t(x[t] . WqkvT[:, c] + b[c]); launch: groups of G threads, 4 rows x G columns per tile, grid-stride.
    public static void QkvKernel(QkvProjectionArgs a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int groupSize = Group.DimX;
        int lane = Group.IdxX;
        int outer = (a.Heads + 2 * a.KvHeads) * a.HeadDim;
        int rowTiles = (a.Tokens + TileRows - 1) / TileRows;
        int colTiles = (outer + groupSize - 1) / groupSize;
        int half = a.HeadDim / 2;
        int qCols = a.Heads * a.HeadDim;
        int kCols = a.KvHeads * a.HeadDim;

        for (int tile = Grid.IdxX; tile < rowTiles * colTiles; tile += Grid.DimX)
        {
            int row0 = (tile / colTiles) * TileRows;
            int col = (tile % colTiles) * groupSize + lane;

            int section = col < qCols ? 0 : col < qCols + kCols ? 1 : 2;
            int within = section == 0 ? col : section == 1 ? col - qCols : col - qCols - kCols;
            int j = within % a.HeadDim;
            bool rotated = a.Rope != 0 && section != 2;
            bool active = col < outer && (!rotated || j < half);
            int partner = rotated ? col + half : col;

            TileAccumulators acc = default;
            TileAccumulators accPartner = default;
            AccumulateTile(
                shared, a.X, a.WeightT, a.Tokens, a.ModelDim, outer, row0, col, partner,
                active, rotated, ref acc, ref accPartner);

            if (!active)
            {
                continue;
            }

            for (int r = 0; r < TileRows; r++)
            {
                int t = row0 + r;
                if (t >= a.Tokens)
                {
                    break;
                }

                float x1 = acc.Get(r) + a.Bias[col];
                float x2 = rotated ? accPartner.Get(r) + a.Bias[partner] : 0f;
                float y1 = x1;
                float y2 = x2;
                if (rotated)
                {
                    float c = a.Cos[t * half + j];
                    float s = a.Sin[t * half + j];
                    y1 = x1 * c - x2 * s;
                    y2 = x2 * c + x1 * s;
                }

                if (section == 0)
                {
                    int o = t * qCols + within;
                    a.Q[o] = y1;
                    if (rotated)
                    {
                        a.Q[o + half] = y2;
                    }
                }
                else if (section == 1)
                {
                    int o = t * kCols + within;
                    a.KRaw[o] = x1;
                    a.KRotated[o] = y1;
                    if (rotated)
                    {
                        a.KRaw[o + half] = x2;
                        a.KRotated[o + half] = y2;
                    }
                }
                else
                {
                    a.V[t * kCols + within] = y1;
                }
            }
        }
    }

    // y[t, c] = x[t] . WT[:, c] + b[c]; launch: groups of G threads, 4 rows x G columns per tile, grid-stride.
    public static void LinearKernel(LinearArgs a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int groupSize = Group.DimX;
        int rowTiles = (a.Rows + TileRows - 1) / TileRows;
        int colTiles = (a.Outer + groupSize - 1) / groupSize;

        for (int tile = Grid.IdxX; tile < rowTiles * colTiles; tile += Grid.DimX)
        {
            int row0 = (tile / colTiles) * TileRows;
            int col = (tile % colTiles) * groupSize + Group.IdxX;
            bool active = col < a.Outer;

            TileAccumulators acc = default;
            TileAccumulators unused = default;
            AccumulateTile(
                shared, a.X, a.WeightT, a.Rows, a.Inner, a.Outer, row0, col, col,
                active, false, ref acc, ref unused);

            if (!active)
            {
                continue;
            }

            for (int r = 0; r < TileRows && row0 + r < a.Rows; r++)
            {
                a.Y[(row0 + r) * a.Outer + col] = acc.Get(r) + a.Bias[col];
            }
        }
    }

    /// <summary>
    /// acc[r] = sum_k x[row0 + r, k] * WT[k, col] (and the same for <paramref name="partner"/> when
    /// <paramref name="paired"/>). Every thread of the group must call it: it stages x through shared memory
    /// with two barriers per K-chunk.
    /// </summary>
    private static void AccumulateTile(
        ArrayView<float> shared, ArrayView<float> x, ArrayView<float> weightT,
        int rows, int inner, int outer, int row0, int col, int partner,
        bool active, bool paired, ref TileAccumulators acc, ref TileAccumulators accPartner)
    {
        int groupSize = Group.DimX;
        int lane = Group.IdxX;
        for (int k0 = 0; k0 < inner; k0 += groupSize)
        {
            int chunk = XMath.Min(groupSize, inner - k0);
            for (int e = lane; e < TileRows * groupSize; e += groupSize)
            {
                int r = e / groupSize;
                int k = e % groupSize;
                int t = row0 + r;
                shared[e] = t < rows && k < chunk ? x[t * inner + k0 + k] : 0f;
            }

            Group.Barrier();
            if (active)
            {
                for (int k = 0; k < chunk; k++)
                {
                    int w = (k0 + k) * outer;
                    float wc = weightT[w + col];
                    acc.V0 += shared[k] * wc;
                    acc.V1 += shared[groupSize + k] * wc;
                    acc.V2 += shared[2 * groupSize + k] * wc;
                    acc.V3 += shared[3 * groupSize + k] * wc;
                    if (paired)
                    {
                        float wp = weightT[w + partner];
                        accPartner.V0 += shared[k] * wp;
                        accPartner.V1 += shared[groupSize + k] * wp;
                        accPartner.V2 += shared[2 * groupSize + k] * wp;
                        accPartner.V3 += shared[3 * groupSize + k] * wp;
                    }
                }
            }

            Group.Barrier();
        }
    }

    /// <summary>Four per-thread accumulators (one per tile row), kept in registers.</summary>
    private struct TileAccumulators
    {
        public float V0;
        public float V1;
        public float V2;
        public float V3;

        public readonly float Get(int r) => r == 0 ? V0 : r == 1 ? V1 : r == 2 ? V2 : V3;
    }
}
