namespace Soma.Kernels;

/// <summary>
/// Four consecutive floats, read as one 128-bit load through a 16-byte-aligned view (ILGPU's PTX backend vectorizes
/// the load of a structure of four floats: <c>ld.global.v4.f32</c>, LDG.E.128).
/// </summary>
internal struct Float4
{
    /// <summary>Element 0.</summary>
    public float X;
    /// <summary>Element 1.</summary>
    public float Y;
    /// <summary>Element 2.</summary>
    public float Z;
    /// <summary>Element 3.</summary>
    public float W;

    /// <summary>Element <paramref name="j"/> (0..3).</summary>
    /// <param name="j">The element.</param>
    public readonly float Get(int j) => j switch
    {
        0 => X,
        1 => Y,
        2 => Z,
        _ => W,
    };

    /// <summary>this += <paramref name="x"/> * <paramref name="w"/>, element by element.</summary>
    /// <param name="x">The input element.</param>
    /// <param name="w">Four weights.</param>
    public void Add(float x, Float4 w)
    {
        X += x * w.X;
        Y += x * w.Y;
        Z += x * w.Z;
        W += x * w.W;
    }
}
