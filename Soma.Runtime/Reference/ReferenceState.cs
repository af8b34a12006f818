namespace Soma.Reference;

/// <summary>One session's state in the reference: ring of rotated keys and values, field S, position p.</summary>
public sealed class ReferenceState
{
    /// <summary>Creates the empty state (S = 0, p = 0) for a layer shape.</summary>
    public ReferenceState(SomaLayerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int kv = options.KvHeads * options.HeadDim;
        RingK = new double[options.Window * kv];
        RingV = new double[options.Window * kv];
        Field = new double[kv];
    }

    /// <summary>Ring keys [W, Hkv, dh]; slot p mod W holds the key of position p.</summary>
    public double[] RingK { get; }

    /// <summary>Ring values [W, Hkv, dh].</summary>
    public double[] RingV { get; }

    /// <summary>Field S [Hkv, dh].</summary>
    public double[] Field { get; }

    /// <summary>Tokens consumed so far (the next token's absolute position).</summary>
    public long Position { get; set; }
}
