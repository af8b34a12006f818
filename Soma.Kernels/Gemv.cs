using ILGPU;

namespace Soma.Kernels;

/// <summary>
/// The decode projection: a matrix-vector product for one to <see cref="MaxRows"/> rows over a row-major weight
/// W[M, K], with the same epilogues (<see cref="IProjectionEpilogue"/>) as the tile loop of <see cref="Projection"/>,
/// over weights of any storage type (<see cref="IElementView.LoadQuad"/>). One warp per output column (a row of W; a
/// RoPE-paired column brings its partner row): each lane reads four consecutive weights per load (fp32: one 128-bit
/// load, fp16/bf16: one 64-bit load, widened in registers), four loads in flight, consecutive lanes on consecutive
/// quads, so the warp streams the row once; the lanes' sums meet in a warp-shuffle reduction and lane 0 runs the
/// epilogue. No shared memory, no barriers, no split-K partial sums: the rows of W alone fill the device.
/// </summary>
internal static class Gemv
{
    /// <summary>Most rows one launch serves (each lane keeps one sum per row, twice with RoPE).</summary>
    public const int MaxRows = 4;

    // out[t, c] = epilogue(x[t] . W[c, :]), t < n <= 4; launch: any grid of whole warps, one warp per output column,
    // grid-stride over the columns (the warp size is read at run time).
    public static void Kernel<TWeights, TEpilogue>(ProjectionArgs a, TWeights weight, TEpilogue epilogue)
        where TWeights : struct, IElementView
        where TEpilogue : struct, IProjectionEpilogue
    {
        int lanes = Warp.WarpSize;
        int lane = Group.IdxX % lanes;
        int warps = Grid.DimX * (Group.DimX / lanes);
        for (int col = Grid.IdxX * (Group.DimX / lanes) + Group.IdxX / lanes; col < a.Outer; col += warps)
        {
            var column = epilogue.Column(col, a.Outer);
            if (!column.Active)
            {
                continue;
            }

            var sums = RowDot(a, weight, column.Col, lane, lanes).WarpSums(a.Rows);
            var partner = column.Paired ? RowDot(a, weight, column.Partner, lane, lanes).WarpSums(a.Rows) : default;
            for (int r = 0; lane == 0 && r < MaxRows && r < a.Rows; r++)
            {
                epilogue.Write(column, r, sums.Get(r), partner.Get(r));
            }
        }
    }

    /// <summary>
    /// This lane's share of x[r] . W[<paramref name="row"/>, :] for every row r: quads lane, lane + lanes, ... four
    /// loads ahead when K % 4 == 0 (the 4-element loads need rows that start on a quad); otherwise element by element.
    /// </summary>
    private static GemvAccumulators RowDot<TWeights>(ProjectionArgs a, TWeights weight, int row, int lane, int lanes)
        where TWeights : struct, IElementView
    {
        GemvAccumulators acc = default;
        if (a.Inner % 4 != 0)
        {
            for (int k = lane; k < a.Inner; k += lanes)
            {
                acc.Add(a, k, weight.Load(row * a.Inner + k));
            }

            return acc;
        }

        int quads = a.Inner / 4;
        int first = row * quads;
        int q = lane;
        for (; q + 3 * lanes < quads; q += 4 * lanes)
        {
            var w0 = weight.LoadQuad(first + q);
            var w1 = weight.LoadQuad(first + q + lanes);
            var w2 = weight.LoadQuad(first + q + 2 * lanes);
            var w3 = weight.LoadQuad(first + q + 3 * lanes);
            acc.Add(a, 4 * q, w0);
            acc.Add(a, 4 * (q + lanes), w1);
            acc.Add(a, 4 * (q + 2 * lanes), w2);
            acc.Add(a, 4 * (q + 3 * lanes), w3);
        }

        for (; q < quads; q += lanes)
        {
            acc.Add(a, 4 * q, weight.LoadQuad(first + q));
        }

        return acc;
    }
}
