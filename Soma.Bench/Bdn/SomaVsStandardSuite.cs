using Soma;

namespace Soma.Bench.Bdn;

/// <summary>
/// A suite that runs the same random layer as Soma (baseline) and as the standard-attention layer: one session of
/// each, an input of some rows and an output buffer, all made by <see cref="OpenPair"/> and disposed here.
/// </summary>
public abstract class SomaVsStandardSuite : AcceleratorSuite
{
    private SomaLayer? soma;
    private SomaLayer? standard;

    /// <summary>The Soma session.</summary>
    internal SomaSession SomaSession { get; private set; } = null!;

    /// <summary>The standard-attention session.</summary>
    internal SomaSession StandardSession { get; private set; } = null!;

    /// <summary>Input rows [rows, D].</summary>
    protected float[] X { get; private set; } = Array.Empty<float>();

    /// <summary>Output rows, reused by every call.</summary>
    protected float[] Y { get; private set; } = Array.Empty<float>();

    /// <summary>
    /// Opens the engine and both layers (the standard one with a KV cache of <paramref name="kvCapacity"/> tokens),
    /// a session of each, and random x of <paramref name="rows"/> rows; returns the layer shape.
    /// </summary>
    internal SomaLayerOptions OpenPair(int kvCapacity, int rows)
    {
        var o = OpenEngine();
        var weights = SomaLayerWeights.CreateRandom(o, seed: 1, biases: true);
        soma = Engine.CreateLayer(o, weights);
        standard = Engine.CreateStandardAttentionLayer(o, weights, kvCapacity);
        SomaSession = soma.CreateSession();
        StandardSession = standard.CreateSession();
        X = QuickRun.RandomInputs(o.ModelDim, rows, seed: 2);
        Y = new float[X.Length];
        return o;
    }

    /// <inheritdoc/>
    protected sealed override void DisposeOwned()
    {
        SomaSession?.Dispose();
        StandardSession?.Dispose();
        soma?.Dispose();
        standard?.Dispose();
        (SomaSession, StandardSession, soma, standard) = (null!, null!, null, null);
    }
}
