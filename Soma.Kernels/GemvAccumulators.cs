namespace Soma.Kernels;

/// <summary>Per-thread accumulators of a decode GEMV: four columns for each of up to <see cref="Gemv.MaxRows"/> rows, in registers.</summary>
internal struct GemvAccumulators
{
    /// <summary>Row 0's four columns.</summary>
    public Float4 R0;
    /// <summary>Row 1's four columns.</summary>
    public Float4 R1;
    /// <summary>Row 2's four columns.</summary>
    public Float4 R2;
    /// <summary>Row 3's four columns.</summary>
    public Float4 R3;

    /// <summary>Adds input element k of each row (<paramref name="x0"/>..<paramref name="x3"/>) times the four weights <paramref name="w"/>.</summary>
    /// <param name="x0">x[0, k].</param>
    /// <param name="x1">x[1, k] (0 past the rows).</param>
    /// <param name="x2">x[2, k] (0 past the rows).</param>
    /// <param name="x3">x[3, k] (0 past the rows).</param>
    /// <param name="w">WT[k, c..c+3].</param>
    public void Add(float x0, float x1, float x2, float x3, Float4 w)
    {
        R0.Add(x0, w);
        R1.Add(x1, w);
        R2.Add(x2, w);
        R3.Add(x3, w);
    }

    /// <summary>Column <paramref name="j"/> of row <paramref name="r"/>.</summary>
    /// <param name="r">The row (0..3).</param>
    /// <param name="j">The column within the quad (0..3).</param>
    public readonly float Get(int r, int j) => r switch
    {
        0 => R0.Get(j),
        1 => R1.Get(j),
        2 => R2.Get(j),
        _ => R3.Get(j),
    };
}
