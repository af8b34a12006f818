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
}
