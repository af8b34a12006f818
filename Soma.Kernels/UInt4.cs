namespace Soma.Kernels;

/// <summary>
/// Sixteen bytes read as one 128-bit load through a 16-byte-aligned view (<c>ld.global.v4.u32</c>, LDG.E.128): eight
/// 16-bit elements, two to a word, element 2i in the low half of word i.
/// </summary>
internal struct UInt4
{
    /// <summary>Elements 0 and 1.</summary>
    public uint X;
    /// <summary>Elements 2 and 3.</summary>
    public uint Y;
    /// <summary>Elements 4 and 5.</summary>
    public uint Z;
    /// <summary>Elements 6 and 7.</summary>
    public uint W;
}
