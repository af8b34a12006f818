namespace Soma.Kernels;

/// <summary>Per-thread accumulators, one per tile row (<see cref="Projection.TileRows"/> = 8), kept in registers.</summary>
internal struct TileAccumulators
{
    /// <summary>Accumulator of tile row 0.</summary>
    public float V0;
    /// <summary>Accumulator of tile row 1.</summary>
    public float V1;
    /// <summary>Accumulator of tile row 2.</summary>
    public float V2;
    /// <summary>Accumulator of tile row 3.</summary>
    public float V3;
    /// <summary>Accumulator of tile row 4.</summary>
    public float V4;
    /// <summary>Accumulator of tile row 5.</summary>
    public float V5;
    /// <summary>Accumulator of tile row 6.</summary>
    public float V6;
    /// <summary>Accumulator of tile row 7.</summary>
    public float V7;

    /// <summary>The accumulator of tile row <paramref name="r"/>.</summary>
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

    /// <summary>
    /// acc[r] += tile[r * width + k] * w for every tile row r, written out row by row (no loop or switch left for the
    /// compiler to unroll: eight shared loads and eight multiply-adds).
    /// </summary>
    /// <param name="tile">The staged rows (<see cref="Projection.TileRows"/> rows of stride <paramref name="width"/>).</param>
    /// <param name="k">The input element.</param>
    /// <param name="width">The rows' stride.</param>
    /// <param name="w">The weight of input element <paramref name="k"/> for this column.</param>
    public void AddColumn(ILGPU.ArrayView<float> tile, int k, int width, float w)
    {
        V0 += tile[k] * w;
        V1 += tile[width + k] * w;
        V2 += tile[2 * width + k] * w;
        V3 += tile[3 * width + k] * w;
        V4 += tile[4 * width + k] * w;
        V5 += tile[5 * width + k] * w;
        V6 += tile[6 * width + k] * w;
        V7 += tile[7 * width + k] * w;
    }
}
