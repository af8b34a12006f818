namespace Soma.Kernels;

/// <summary>
/// The keys and values one attention launch reads (a kernel argument of its own, typed by the ring's storage): the
/// chunk's rows, which the QKV epilogue wrote in the ring's type, and the sessions' rings. Both are read through
/// <see cref="KeyRows.Read{TRing}"/>, so the current token's own row is read as stored, like every ring row.
/// </summary>
/// <typeparam name="TRing">How the ring (and the chunk's rotated k and v) store keys and values.</typeparam>
internal struct StoredKeyValues<TRing>
    where TRing : struct, IElementView
{
    /// <summary>The chunk's rotated keys k[n, Hkv, dh].</summary>
    public TRing K;
    /// <summary>The chunk's values v[n, Hkv, dh].</summary>
    public TRing V;
    /// <summary>Ring keys [slots, W, Hkv, dh].</summary>
    public TRing RingK;
    /// <summary>Ring values [slots, W, Hkv, dh].</summary>
    public TRing RingV;
}
