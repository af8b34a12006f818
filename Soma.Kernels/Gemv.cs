using ILGPU;

namespace Soma.Kernels;

/// <summary>
/// The decode projection: a matrix-vector product for one to <see cref="MaxRows"/> rows over a row-major weight
/// W[M, K], with the same epilogues (<see cref="IProjectionEpilogue"/>) as the tile loop of <see cref="Projection"/>,
/// over weights of any storage type. One warp per output column (a row of W; a
/// RoPE-paired column brings its partner row): each lane reads eight consecutive weights at a time
/// (<see cref="IElementView.LoadOctet"/>: fp16/bf16 one 128-bit load widened in registers, fp32 two), four octets in
/// flight, consecutive lanes on consecutive octets, so the warp streams the row once; the lanes' sums meet in a warp-shuffle reduction and lane 0 runs the
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
    /// This lane's share of x[r] . W[<paramref name="row"/>, :] for every row r: octets lane, lane + lanes, ... four
    /// loads ahead when K % 8 == 0 (the 8-element loads need rows that start on a 16-byte boundary); otherwise
    /// element by element.
    /// </summary>
    private static GemvAccumulators RowDot<TWeights>(ProjectionArgs a, TWeights weight, int row, int lane, int lanes)
        where TWeights : struct, IElementView
    {
        GemvAccumulators acc = default;
        if (a.Inner % 8 != 0)
        {
            for (int k = lane; k < a.Inner; k += lanes)
            {
                acc.Add(a, k, weight.Load(row * a.Inner + k));
            }

            return acc;
        }

        int octets = a.Inner / 8;
        int first = row * octets;
        int o = lane;
        for (; o + 3 * lanes < octets; o += 4 * lanes)
        {
            var w0 = weight.LoadOctet(first + o);
            var w1 = weight.LoadOctet(first + o + lanes);
            var w2 = weight.LoadOctet(first + o + 2 * lanes);
            var w3 = weight.LoadOctet(first + o + 3 * lanes);
            acc.Add(a, 8 * o, w0);
            acc.Add(a, 8 * (o + lanes), w1);
            acc.Add(a, 8 * (o + 2 * lanes), w2);
            acc.Add(a, 8 * (o + 3 * lanes), w3);
        }

        for (; o < octets; o += lanes)
        {
            acc.Add(a, 8 * o, weight.LoadOctet(first + o));
        }

        return acc;
    }
}
