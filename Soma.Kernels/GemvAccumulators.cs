using ILGPU;

namespace Soma.Kernels;

/// <summary>One lane's sums of a decode GEMV (<see cref="Gemv"/>): one output column for each of up to <see cref="Gemv.MaxRows"/> rows, in registers.</summary>
internal struct GemvAccumulators
{
    /// <summary>Row 0's sum.</summary>
    public float S0;
    /// <summary>Row 1's sum.</summary>
    public float S1;
    /// <summary>Row 2's sum.</summary>
    public float S2;
    /// <summary>Row 3's sum.</summary>
    public float S3;

    /// <summary>Adds x[r, k..k+3] . <paramref name="w"/> to each row r's sum (rows past the launch's add nothing).</summary>
    /// <param name="a">The projection's operands (x, rows, K).</param>
    /// <param name="k">The first of the four input elements.</param>
    /// <param name="w">W[c, k..k+3].</param>
    public void Add(ProjectionArgs a, int k, Float4 w)
    {
        S0 += Dot(a, 0, k, w);
        S1 += Dot(a, 1, k, w);
        S2 += Dot(a, 2, k, w);
        S3 += Dot(a, 3, k, w);
    }

    /// <summary>Adds x[r, k..k+7] . <paramref name="w"/> to each row r's sum (rows past the launch's add nothing).</summary>
    /// <param name="a">The projection's operands (x, rows, K).</param>
    /// <param name="k">The first of the eight input elements.</param>
    /// <param name="w">W[c, k..k+7].</param>
    public void Add(ProjectionArgs a, int k, Float8 w)
    {
        Add(a, k, w.Lo);
        Add(a, k + 4, w.Hi);
    }

    /// <summary>Adds x[r, k] * <paramref name="w"/> to each row r's sum (rows past the launch's add nothing).</summary>
    /// <param name="a">The projection's operands (x, rows, K).</param>
    /// <param name="k">The input element.</param>
    /// <param name="w">W[c, k].</param>
    public void Add(ProjectionArgs a, int k, float w)
    {
        S0 += Input(a, 0, k) * w;
        S1 += Input(a, 1, k) * w;
        S2 += Input(a, 2, k) * w;
        S3 += Input(a, 3, k) * w;
    }

    /// <summary>The warp's totals of rows 0 .. <paramref name="rows"/> - 1 (<see cref="WarpReduce.Sum"/>: in every lane; lane 0 writes them); every lane of the warp must call it.</summary>
    /// <param name="rows">The launch's rows (the same for the whole warp).</param>
    public readonly GemvAccumulators WarpSums(int rows) => new()
    {
        S0 = WarpReduce.Sum(S0),
        S1 = rows > 1 ? WarpReduce.Sum(S1) : 0f,
        S2 = rows > 2 ? WarpReduce.Sum(S2) : 0f,
        S3 = rows > 3 ? WarpReduce.Sum(S3) : 0f,
    };

    /// <summary>Row <paramref name="r"/>'s sum.</summary>
    /// <param name="r">The row (0..3).</param>
    public readonly float Get(int r) => r switch
    {
        0 => S0,
        1 => S1,
        2 => S2,
        _ => S3,
    };

    /// <summary>x[r, k..k+3] . w, or 0 past the launch's rows.</summary>
    private static float Dot(ProjectionArgs a, int r, int k, Float4 w)
    {
        if (r >= a.Rows)
        {
            return 0f;
        }

        int i = r * a.Inner + k;
        return a.X[i] * w.X + a.X[i + 1] * w.Y + a.X[i + 2] * w.Z + a.X[i + 3] * w.W;
    }

    /// <summary>x[r, k], or 0 past the launch's rows.</summary>
    private static float Input(ProjectionArgs a, int r, int k) => r < a.Rows ? a.X[r * a.Inner + k] : 0f;
}
