namespace Soma.Kernels;

/// <summary>Per-thread accumulators, one per tile row, kept in registers (the row loops unroll over constants).</summary>
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

    /// <summary>Adds <paramref name="value"/> to the accumulator of tile row <paramref name="r"/>.</summary>
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
