namespace Soma;

/// <summary>
/// Shape and behaviour of one Soma attention layer: widths, heads, ring capacity, window mode, RoPE and softmax scale.
/// Validated when constructed; an instance is always a usable layer description.
/// </summary>
/// <remarks>
/// RoPE is on by default, with θ = <see cref="DefaultRopeTheta"/> (10000), the same default as a checkpoint layer
/// whose config.json names no rope_theta (<see cref="IO.SomaParameters"/>, whose <c>rope</c> key is true by
/// default); pass <c>ropeTheta: null</c> to turn it off. A query head h reads kv-head h / (H / Hkv). The near field attends over the W most recent tokens
/// (including the current one when <see cref="IncludeCurrent"/>); the far field adds alpha[h] times the decaying
/// field state. See docs/semantics.md for the exact math.
/// <para>
/// Storage: <see cref="WeightStorage"/> (default: the weights' own type, fp32 for float arrays, the checkpoint's
/// dtype for <see cref="SomaLayerWeights.FromBits"/>) and <see cref="RingStorage"/> (default fp32) pick how weights
/// and the ring's keys and values sit on the device; set them with an initializer, e.g.
/// <c>new SomaLayerOptions(...) { RingStorage = SomaStorageType.Float16 }</c>. Accumulation is always fp32, the field fp64.
/// </para>
/// </remarks>
public sealed record SomaLayerOptions
{
    private readonly SomaStorageType? weightStorage;
    private readonly SomaStorageType ringStorage;

    /// <summary>Creates and validates layer options.</summary>
    /// <param name="modelDim">D: input and output width, &gt;= 1.</param>
    /// <param name="heads">H: query heads, &gt;= 1 and a multiple of <paramref name="kvHeads"/>.</param>
    /// <param name="kvHeads">Hkv: key/value heads, &gt;= 1.</param>
    /// <param name="headDim">dh: head dimension, &gt;= 1 (even when RoPE is on, as it is by default).</param>
    /// <param name="window">W: ring capacity in tokens, &gt;= 1.</param>
    /// <param name="includeCurrent">True: the window ends at the current token (standard causal attention).
    /// False: the window holds only the W tokens before it.</param>
    /// <param name="ropeTheta">RoPE base theta (rotate-half convention), &gt; 1; default <see cref="DefaultRopeTheta"/>
    /// (RoPE on). Pass null explicitly for no RoPE.</param>
    /// <param name="scale">Softmax scale, or null for 1 / sqrt(dh). Must be finite and &gt; 0.</param>
    /// <param name="maxChunkTokens">Tokens per device pass in prefill: bounds scratch memory, not prompt length.</param>
    public SomaLayerOptions(
        int modelDim,
        int heads,
        int kvHeads,
        int headDim,
        int window,
        bool includeCurrent = true,
        double? ropeTheta = DefaultRopeTheta,
        double? scale = null,
        int maxChunkTokens = 1024)
    {
        ModelDim = Guard.Positive(modelDim, nameof(modelDim));
        Heads = Guard.Positive(heads, nameof(heads));
        KvHeads = Guard.Positive(kvHeads, nameof(kvHeads));
        HeadDim = Guard.Positive(headDim, nameof(headDim));
        Window = Guard.Positive(window, nameof(window));
        MaxChunkTokens = Guard.Positive(maxChunkTokens, nameof(maxChunkTokens));
        if (heads % kvHeads != 0)
        {
            throw new ArgumentException(
                $"heads ({heads}) must be a multiple of kvHeads ({kvHeads}): H % Hkv == 0.", nameof(heads));
        }

        if (ropeTheta is { } theta && (!double.IsFinite(theta) || theta <= 1.0))
        {
            throw new ArgumentOutOfRangeException(nameof(ropeTheta), theta, "ropeTheta must be finite and > 1.");
        }

        if (ropeTheta is not null && headDim % 2 != 0)
        {
            throw new ArgumentException(
                $"headDim ({headDim}) must be even when RoPE is on (rotate-half pairs j with j + dh/2); RoPE is on by default, pass ropeTheta: null to turn it off.",
                nameof(headDim));
        }

        if (scale is { } sc && (!double.IsFinite(sc) || sc <= 0.0))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), sc, "scale must be finite and > 0.");
        }

        long qkv = (long)modelDim * (heads + 2L * kvHeads) * headDim;
        if (qkv > int.MaxValue || (long)window * kvHeads * headDim > int.MaxValue / 4)
        {
            throw new ArgumentException("The layer is too large: weights or ring exceed 2^31 elements.", nameof(modelDim));
        }

        IncludeCurrent = includeCurrent;
        RopeTheta = ropeTheta;
        Scale = scale ?? 1.0 / Math.Sqrt(headDim);
    }

    /// <summary>
    /// The RoPE base a layer gets when its options name none: 10000, as in the Llama, Qwen2 and Mistral families'
    /// defaults. Equal to <see cref="IO.SomaParameters.DefaultRopeTheta"/>, the base a checkpoint layer gets when
    /// config.json names none, so the library and the <c>soma</c> tool share one default: RoPE on at θ = 10000.
    /// </summary>
    public const double DefaultRopeTheta = 10000.0;

    /// <summary>D: input and output width.</summary>
    public int ModelDim { get; }

    /// <summary>H: query heads.</summary>
    public int Heads { get; }

    /// <summary>Hkv: key/value heads.</summary>
    public int KvHeads { get; }

    /// <summary>dh: head dimension.</summary>
    public int HeadDim { get; }

    /// <summary>W: ring capacity in tokens.</summary>
    public int Window { get; }

    /// <summary>True when the window ends at the current token; false when it holds only earlier tokens.</summary>
    public bool IncludeCurrent { get; }

    /// <summary>RoPE base theta (<see cref="DefaultRopeTheta"/> unless given), or null when RoPE is off.</summary>
    public double? RopeTheta { get; }

    /// <summary>The softmax scale (1 / sqrt(dh) unless given).</summary>
    public double Scale { get; }

    /// <summary>Tokens per device pass in prefill.</summary>
    public int MaxChunkTokens { get; }

    /// <summary>
    /// How the projection weights (Wq, Wk, Wv, Wo) are stored on the device, or null (the default) for the weights'
    /// own type: <see cref="SomaStorageType.Float32"/> for float arrays, the checkpoint's dtype for weights made by
    /// <see cref="SomaLayerWeights.FromBits"/> (a bf16 checkpoint stays bf16, bit for bit). A narrower type rounds
    /// each weight once, to nearest even. Biases, gamma and alpha stay fp32. <see cref="SomaLayer.Options"/> reports
    /// the type the layer chose. Must be a defined <see cref="SomaStorageType"/>.
    /// </summary>
    public SomaStorageType? WeightStorage
    {
        get => weightStorage;
        init => weightStorage = value is { } type ? Defined(type, nameof(WeightStorage)) : null;
    }

    /// <summary>
    /// How the ring's rotated keys and values are stored on the device and in snapshots: default
    /// <see cref="SomaStorageType.Float32"/> (exact, and what earlier builds stored). With fp16 or bf16 each key and
    /// value row is rounded once, to nearest even, when the projection writes it, and attention reads it as stored, the
    /// current token's own row included (docs/semantics.md, "Storage types", gives the measured error). Halves the
    /// state and the attention's reads. Must be a defined <see cref="SomaStorageType"/>.
    /// </summary>
    public SomaStorageType RingStorage
    {
        get => ringStorage;
        init => ringStorage = Defined(value, nameof(RingStorage));
    }

    /// <summary>H / Hkv: query heads that share one kv-head.</summary>
    public int HeadsPerKvHead => Heads / KvHeads;

    /// <summary>
    /// Bytes of one session's state: the ring K and V in <see cref="RingStorage"/> and the fp64 field,
    /// 2 W Hkv dh * b + Hkv dh * 8 with b = 4 (fp32) or 2 (fp16, bf16), independent of tokens consumed.
    /// </summary>
    public long StateBytes => 2L * Window * KvHeads * HeadDim * Internal.StorageTypes.Bytes(RingStorage) + (long)KvHeads * HeadDim * sizeof(double);

    private static SomaStorageType Defined(SomaStorageType type, string name) =>
        Enum.IsDefined(type)
            ? type
            : throw new ArgumentOutOfRangeException(name, type, $"{name} must be Float32, Float16 or BFloat16.");
}
