using Soma;

namespace Soma.Tests.Infrastructure;

/// <summary>Deterministic random inputs and small layer shapes for tests.</summary>
public static class TestData
{
    public static float[] Inputs(int width, int tokens, int seed, double amplitude = 1.0)
    {
        var rng = new Random(seed);
        var x = new float[width * tokens];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)((rng.NextDouble() * 2 - 1) * amplitude);
        }

        return x;
    }

    /// <summary>Weights with chosen gamma (one value for every kv-head) and alpha.</summary>
    public static SomaLayerWeights Weights(SomaLayerOptions o, int seed, bool biases = false, float? alpha = null, float? gamma = null)
    {
        var w = SomaLayerWeights.CreateRandom(o, seed, biases, alpha);
        if (gamma is { } g)
        {
            Array.Fill(w.Gamma, g);
        }

        return w;
    }
}
