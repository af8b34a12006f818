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
    private readonly ushort[]?[] bits = new ushort[]?[4];
    private float[]? wq;
    private float[]? wk;
    private float[]? wv;
    private float[]? wo;

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

    // Wq..Wo read the 16-bit projections (widened on first read), so the float fields stay null here.
#pragma warning disable CS8618
    [SetsRequiredMembers]
    private SomaLayerWeights(SomaStorageType type, ushort[][] projections, float[] gamma, float[] alpha)
#pragma warning restore CS8618
    {
        ProjectionType = type;
        projections.CopyTo(bits, 0);
        Gamma = gamma;
        Alpha = alpha;
    }

    /// <summary>
    /// Weights whose projections are 16-bit values as a checkpoint stores them (bit patterns of
    /// <paramref name="type"/>, fp16 or bf16, in nn.Linear layout), with fp32 gamma, alpha and biases. A layer
    /// stores them as they are (<see cref="ProjectionType"/>, unless <see cref="SomaLayerOptions.WeightStorage"/>
    /// says otherwise), so a bf16 checkpoint reaches the device bit for bit and never as fp32 on the host.
    /// </summary>
    /// <param name="type"><see cref="SomaStorageType.Float16"/> or <see cref="SomaStorageType.BFloat16"/>.</param>
    /// <param name="wq">Query projection bits [H*dh, D].</param>
    /// <param name="wk">Key projection bits [Hkv*dh, D].</param>
    /// <param name="wv">Value projection bits [Hkv*dh, D].</param>
    /// <param name="wo">Output projection bits [D, H*dh].</param>
    /// <param name="gamma">Field decay per kv-head [Hkv].</param>
    /// <param name="alpha">Far-field gain per query head [H].</param>
    /// <param name="bq">Query bias [H*dh], or null.</param>
    /// <param name="bk">Key bias [Hkv*dh], or null.</param>
    /// <param name="bv">Value bias [Hkv*dh], or null.</param>
    /// <param name="bo">Output bias [D], or null.</param>
    public static SomaLayerWeights FromBits(
        SomaStorageType type, ushort[] wq, ushort[] wk, ushort[] wv, ushort[] wo, float[] gamma, float[] alpha,
        float[]? bq = null, float[]? bk = null, float[]? bv = null, float[]? bo = null)
    {
        if (type is not (SomaStorageType.Float16 or SomaStorageType.BFloat16))
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, "FromBits takes Float16 or BFloat16 bit patterns; pass float arrays for Float32.");
        }

        return new SomaLayerWeights(
            type,
            new[]
            {
                wq ?? throw new ArgumentNullException(nameof(wq)), wk ?? throw new ArgumentNullException(nameof(wk)),
                wv ?? throw new ArgumentNullException(nameof(wv)), wo ?? throw new ArgumentNullException(nameof(wo)),
            },
            gamma ?? throw new ArgumentNullException(nameof(gamma)),
            alpha ?? throw new ArgumentNullException(nameof(alpha)))
        {
            Bq = bq, Bk = bk, Bv = bv, Bo = bo,
        };
    }

    /// <summary>
    /// The type the four projections are held in: <see cref="SomaStorageType.Float32"/> for float arrays (every
    /// constructor), or the 16-bit type of <see cref="FromBits"/>. A layer stores its weights in this type unless
    /// <see cref="SomaLayerOptions.WeightStorage"/> names another.
    /// </summary>
    public SomaStorageType ProjectionType { get; }

    /// <summary>
    /// Query projection [H*dh, D]. Required. For weights made by <see cref="FromBits"/> reading it widens the 16-bit
    /// values to a new float array (exact) the first time; a layer never reads it that way.
    /// </summary>
    public required float[] Wq { get => wq ?? Widened(0, ref wq); init => wq = value; }

    /// <summary>Key projection [Hkv*dh, D]. Required. Widened on first read for <see cref="FromBits"/> weights.</summary>
    public required float[] Wk { get => wk ?? Widened(1, ref wk); init => wk = value; }

    /// <summary>Value projection [Hkv*dh, D]. Required. Widened on first read for <see cref="FromBits"/> weights.</summary>
    public required float[] Wv { get => wv ?? Widened(2, ref wv); init => wv = value; }

    /// <summary>Output projection [D, H*dh]. Required. Widened on first read for <see cref="FromBits"/> weights.</summary>
    public required float[] Wo { get => wo ?? Widened(3, ref wo); init => wo = value; }

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
    /// value is finite (also once stored as <see cref="SomaLayerOptions.WeightStorage"/>: fp16 ends at ±65504) and that
    /// each gamma lies in [0, 1). Throws <see cref="ArgumentException"/> (its ParamName the
    /// member, e.g. "Gamma") naming the member, its length and the expected shape.
    /// </summary>
    public void Validate(SomaLayerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int d = options.ModelDim;
        int q = options.Heads * options.HeadDim;
        int kv = options.KvHeads * options.HeadDim;
        CheckProjection(0, (long)q * d, nameof(Wq), $"[H*dh={q}, D={d}]");
        CheckProjection(1, (long)kv * d, nameof(Wk), $"[Hkv*dh={kv}, D={d}]");
        CheckProjection(2, (long)kv * d, nameof(Wv), $"[Hkv*dh={kv}, D={d}]");
        CheckProjection(3, (long)d * q, nameof(Wo), $"[D={d}, H*dh={q}]");
        if ((options.WeightStorage ?? ProjectionType) is SomaStorageType.Float16 and var storage && ProjectionType != storage)
        {
            CheckRange(storage);
        }

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

    /// <summary>The 16-bit values of projection <paramref name="matrix"/> (0..3: Wq, Wk, Wv, Wo), or null for float weights.</summary>
    internal ushort[]? Bits(int matrix) => bits[matrix];

    /// <summary>The float values of projection <paramref name="matrix"/> (0..3: Wq, Wk, Wv, Wo); null for weights made by <see cref="FromBits"/>.</summary>
    internal float[]? Floats(int matrix) => matrix switch { 0 => wq, 1 => wk, 2 => wv, _ => wo };

    /// <summary>
    /// Element <paramref name="index"/> of projection <paramref name="matrix"/> as a layer storing it in
    /// <paramref name="type"/> holds it (rounded once, to nearest even, when <paramref name="type"/> is narrower).
    /// </summary>
    internal float Stored(int matrix, long index, SomaStorageType type)
    {
        float value = bits[matrix] is { } b ? Internal.StorageTypes.Widen(b[index], ProjectionType) : Floats(matrix)![index];
        return Internal.StorageTypes.Round(value, type);
    }

    /// <summary>
    /// These weights with the projections as a layer storing them in <paramref name="type"/> holds them, as float
    /// arrays (this instance when nothing changes): what the reference computes with.
    /// </summary>
    internal SomaLayerWeights AsStored(SomaStorageType type)
    {
        if (type == SomaStorageType.Float32 && ProjectionType == SomaStorageType.Float32)
        {
            return this;
        }

        float[] Matrix(int m)
        {
            var values = new float[bits[m]?.Length ?? Floats(m)!.Length];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = Stored(m, i, type);
            }

            return values;
        }

        return new SomaLayerWeights
        {
            Wq = Matrix(0), Wk = Matrix(1), Wv = Matrix(2), Wo = Matrix(3), Gamma = Gamma, Alpha = Alpha,
            Bq = Bq, Bk = Bk, Bv = Bv, Bo = Bo,
        };
    }

    private float[] Widened(int matrix, ref float[]? cache)
    {
        var source = bits[matrix] ?? throw new InvalidOperationException("The projection was never set.");
        var values = new float[source.Length];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = Internal.StorageTypes.Widen(source[i], ProjectionType);
        }

        cache = values;
        return values;
    }

    /// <summary>Throws when a projection weight rounds to an infinity in <paramref name="storage"/> (fp16 ends at ±65504).</summary>
    private void CheckRange(SomaStorageType storage)
    {
        string[] names = [nameof(Wq), nameof(Wk), nameof(Wv), nameof(Wo)];
        for (int m = 0; m < 4; m++)
        {
            long length = bits[m]?.LongLength ?? Floats(m)!.LongLength;
            for (long i = 0; i < length; i++)
            {
                if (float.IsInfinity(Stored(m, i, storage)))
                {
                    throw new ArgumentOutOfRangeException(
                        names[m], Stored(m, i, SomaStorageType.Float32),
                        $"{names[m]}[{i}] lies beyond fp16's range (±65504): WeightStorage Float16 cannot hold it; store the weights as BFloat16 or Float32.");
                }
            }
        }
    }

    private void CheckProjection(int matrix, long expected, string name, string shape)
    {
        if (bits[matrix] is not { } b)
        {
            Check(Floats(matrix)!, expected, name, shape);
            return;
        }

        Guard.Length<ushort>(b, expected, name, shape);
        ushort exponent = ProjectionType == SomaStorageType.BFloat16 ? (ushort)0x7F80 : (ushort)0x7C00;
        for (int i = 0; i < b.Length; i++)
        {
            if ((b[i] & exponent) == exponent)
            {
                throw new ArgumentException(
                    $"{name}[{i}] is {Internal.StorageTypes.Widen(b[i], ProjectionType)} ({Internal.StorageTypes.Name(ProjectionType)} bits 0x{b[i]:X4}); every weight must be finite.", name);
            }
        }
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
