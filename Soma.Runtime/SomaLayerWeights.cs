using System.Diagnostics.CodeAnalysis;

namespace Soma;

/// <summary>
/// Host-side weights of one Soma layer, in PyTorch's nn.Linear layout (row-major [out, in]).
/// </summary>
/// <remarks>
/// <para>
/// Wq is [H*dh, D], Wk and Wv are [Hkv*dh, D], Wo is [D, H*dh]; biases are optional (null means zero).
/// Gamma holds one decay per kv-head in [0, 1); Alpha one far-field gain per query head.
/// </para>
/// <para>
/// Build it by name, so that no two arrays can trade places unnoticed (gamma and alpha have the same length when
/// H == Hkv): <c>new SomaLayerWeights { Wq = wq, Wk = wk, Wv = wv, Wo = wo, Gamma = gamma, Alpha = alpha, Bq = bq }</c>.
/// The six required members must be set (the compiler says which is missing); <see cref="Validate"/> (called by
/// <see cref="SomaEngine.CreateLayer"/> before anything is uploaded) checks each against the layer's options and
/// names the member and its expected length. The positional constructor remains for existing code.
/// </para>
/// </remarks>
public sealed class SomaLayerWeights
{
    /// <summary>
    /// Creates an empty weight set for an object initializer that names every member (the recommended form: see the
    /// remarks on <see cref="SomaLayerWeights"/>).
    /// </summary>
    public SomaLayerWeights()
    {
    }

    /// <summary>
    /// Creates a weight set from arrays in a fixed order (wq, wk, wv, wo, gamma, alpha, then the optional biases);
    /// prefer the named form, where a swapped pair cannot go unnoticed. Its shapes are checked against a layer's
    /// options by <see cref="Validate"/>.
    /// </summary>
    [SetsRequiredMembers]
    public SomaLayerWeights(
        float[] wq, float[] wk, float[] wv, float[] wo, float[] gamma, float[] alpha,
        float[]? bq = null, float[]? bk = null, float[]? bv = null, float[]? bo = null)
    {
        Wq = wq ?? throw new ArgumentNullException(nameof(wq));
        Wk = wk ?? throw new ArgumentNullException(nameof(wk));
        Wv = wv ?? throw new ArgumentNullException(nameof(wv));
        Wo = wo ?? throw new ArgumentNullException(nameof(wo));
        Gamma = gamma ?? throw new ArgumentNullException(nameof(gamma));
        Alpha = alpha ?? throw new ArgumentNullException(nameof(alpha));
        Bq = bq;
        Bk = bk;
        Bv = bv;
        Bo = bo;
    }

    /// <summary>Query projection [H*dh, D]. Required.</summary>
    public required float[] Wq { get; init; }

    /// <summary>Key projection [Hkv*dh, D]. Required.</summary>
    public required float[] Wk { get; init; }

    /// <summary>Value projection [Hkv*dh, D]. Required.</summary>
    public required float[] Wv { get; init; }

    /// <summary>Output projection [D, H*dh]. Required.</summary>
    public required float[] Wo { get; init; }

    /// <summary>Field decay per kv-head, [Hkv], each in [0, 1). Required.</summary>
    public required float[] Gamma { get; init; }

    /// <summary>Far-field gain per query head, [H]. Required.</summary>
    public required float[] Alpha { get; init; }

    /// <summary>Query bias [H*dh], or null.</summary>
    public float[]? Bq { get; init; }

    /// <summary>Key bias [Hkv*dh], or null.</summary>
    public float[]? Bk { get; init; }

    /// <summary>Value bias [Hkv*dh], or null.</summary>
    public float[]? Bv { get; init; }

    /// <summary>Output bias [D], or null.</summary>
    public float[]? Bo { get; init; }

    /// <summary>
    /// Checks that every required array is set, every array's length against <paramref name="options"/>, that every
    /// value is finite and that each gamma lies in [0, 1). Throws <see cref="ArgumentException"/> (its ParamName the
    /// member, e.g. "Gamma") naming the member, its length and the expected shape.
    /// </summary>
    public void Validate(SomaLayerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int d = options.ModelDim;
        int q = options.Heads * options.HeadDim;
        int kv = options.KvHeads * options.HeadDim;
        Check(Wq, (long)q * d, nameof(Wq), $"[H*dh={q}, D={d}]");
        Check(Wk, (long)kv * d, nameof(Wk), $"[Hkv*dh={kv}, D={d}]");
        Check(Wv, (long)kv * d, nameof(Wv), $"[Hkv*dh={kv}, D={d}]");
        Check(Wo, (long)d * q, nameof(Wo), $"[D={d}, H*dh={q}]");
        Check(Alpha, options.Heads, nameof(Alpha), $"[H={options.Heads}]");
        Check(Gamma, options.KvHeads, nameof(Gamma), $"[Hkv={options.KvHeads}]");
        for (int i = 0; i < Gamma.Length; i++)
        {
            if (!(Gamma[i] >= 0f && Gamma[i] < 1f))
            {
                throw new ArgumentOutOfRangeException(
                    nameof(Gamma), Gamma[i], $"Gamma[{i}] is {Gamma[i]}; every gamma must lie in [0, 1).");
            }
        }

        CheckOptional(Bq, q, nameof(Bq), $"[H*dh={q}]");
        CheckOptional(Bk, kv, nameof(Bk), $"[Hkv*dh={kv}]");
        CheckOptional(Bv, kv, nameof(Bv), $"[Hkv*dh={kv}]");
        CheckOptional(Bo, d, nameof(Bo), $"[D={d}]");
    }

    /// <summary>
    /// Random weights for tests and benchmarks: projections uniform in +-1/sqrt(fan-in), gamma uniform in
    /// [0.5, 0.99], alpha uniform in [-1, 1], biases (when asked for) uniform in +-0.1. Deterministic for a seed.
    /// </summary>
    public static SomaLayerWeights CreateRandom(SomaLayerOptions options, int seed, bool biases = false, float? alpha = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var rng = new Random(seed);
        int d = options.ModelDim;
        int q = options.Heads * options.HeadDim;
        int kv = options.KvHeads * options.HeadDim;
        float[] Uniform(int n, double bound)
        {
            var a = new float[n];
            for (int i = 0; i < n; i++)
            {
                a[i] = (float)((rng.NextDouble() * 2 - 1) * bound);
            }

            return a;
        }

        double inScale = 1.0 / Math.Sqrt(d);
        double outScale = 1.0 / Math.Sqrt(q);
        var wq = Uniform(q * d, inScale);
        var wk = Uniform(kv * d, inScale);
        var wv = Uniform(kv * d, inScale);
        var wo = Uniform(d * q, outScale);
        var gamma = new float[options.KvHeads];
        for (int i = 0; i < gamma.Length; i++)
        {
            gamma[i] = (float)(0.5 + 0.49 * rng.NextDouble());
        }

        var alphas = alpha is { } a0 ? Enumerable.Repeat(a0, options.Heads).ToArray() : Uniform(options.Heads, 1.0);
        return new SomaLayerWeights
        {
            Wq = wq, Wk = wk, Wv = wv, Wo = wo, Gamma = gamma, Alpha = alphas,
            Bq = biases ? Uniform(q, 0.1) : null,
            Bk = biases ? Uniform(kv, 0.1) : null,
            Bv = biases ? Uniform(kv, 0.1) : null,
            Bo = biases ? Uniform(d, 0.1) : null,
        };
    }

    private static void Check(float[] values, long expected, string name, string shape)
    {
        if (values is null)
        {
            throw new ArgumentNullException(name, $"{name} is null; expected {expected} floats ({shape}).");
        }

        Guard.Length<float>(values, expected, name, shape);
        Guard.Finite(values, name);
    }

    private static void CheckOptional(float[]? values, long expected, string name, string shape)
    {
        if (values is not null)
        {
            Check(values, expected, name, shape);
        }
    }
}
