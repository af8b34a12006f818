using Soma.IO;

namespace Soma;

/// <summary>
/// Host-side weights of a whole decoder (Llama, Qwen2, Mistral): embeddings, layers, final norm and LM head, read and
/// checked whole before anything goes to a device, so a checkpoint that does not fit loads nothing.
/// </summary>
/// <remarks>
/// The model (Hugging Face semantics): h = embed[token]; per layer h += Attn(RMSNorm(h, input_layernorm)), then
/// h += down(silu(gate(u)) * up(u)) with u = RMSNorm(h, post_attention_layernorm); logits = lm_head(RMSNorm(h, norm)).
/// RMSNorm(x, w) = x / sqrt(mean(x^2) + eps) * w.
/// </remarks>
/// <param name="Config">The checkpoint's configuration.</param>
/// <param name="Embedding">model.embed_tokens.weight [V, D].</param>
/// <param name="LmHead">lm_head.weight [V, D], or null when tied to <paramref name="Embedding"/>.</param>
/// <param name="FinalNorm">model.norm.weight [D].</param>
/// <param name="Layers">The decoder layers, first to last.</param>
public sealed record CausalLMWeights(
    CausalLMConfig Config, float[] Embedding, float[]? LmHead, float[] FinalNorm, IReadOnlyList<DecoderLayerWeights> Layers)
{
    /// <summary>V: vocabulary size.</summary>
    public int VocabSize => Config.VocabSize;

    /// <summary>D: model width.</summary>
    public int ModelDim => Config.HiddenSize;

    /// <summary>
    /// The type the checkpoint stores the embedding, MLP and LM head in (Float32 where they are F32 or of mixed types;
    /// their values here are widened exactly). The decoder stores those matrices in this type on the device unless the
    /// first layer's <see cref="SomaLayerOptions.WeightStorage"/> names another, as a layer does with its projections.
    /// </summary>
    public SomaStorageType ProjectionType { get; init; } = SomaStorageType.Float32;

    /// <summary>The LM head matrix [V, D]: lm_head.weight, or the embedding when tied.</summary>
    public float[] Head => LmHead ?? Embedding;

    /// <summary>
    /// Reads a checkpoint folder (config.json plus model.safetensors or shards): every tensor of the model, with its
    /// shape checked against config.json. <paramref name="soma"/> gives the Soma parameters of every attention layer and
    /// which layers keep full attention. Errors (<see cref="InvalidDataException"/>, <see cref="FileNotFoundException"/>)
    /// name the file, the field or the tensor.
    /// </summary>
    public static CausalLMWeights Load(string folder, SomaParameters soma)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(soma);
        using var checkpoint = HuggingFaceCheckpoint.Open(folder);
        var config = CausalLMConfig.Read(Path.Combine(folder, "config.json"), checkpoint.Config);
        int d = config.HiddenSize, v = config.VocabSize, inter = config.IntermediateSize, layers = config.Layers;
        if (layers < 1)
        {
            throw new InvalidDataException($"{folder}/config.json: num_hidden_layers is {layers}; expected at least 1.");
        }

        foreach (int l in (soma.FullAttentionLayers ?? []).Concat(soma.LayerOverrides?.Keys ?? []))
        {
            if (l >= layers)
            {
                throw new ArgumentException($"The Soma options name layer {l} (full_attention_layers or layers); the model has {layers} (num_hidden_layers).", nameof(soma));
            }
        }

        var list = new List<DecoderLayerWeights>();
        for (int l = 0; l < layers; l++)
        {
            string p = $"model.layers.{l}.";
            if (checkpoint.HasTensor(p + "self_attn.q_norm.weight") || checkpoint.HasTensor(p + "self_attn.k_norm.weight"))
            {
                throw new InvalidDataException($"{folder}: layer {l} has q_norm/k_norm (per-head norms on q and k), which Soma's decoder does not support.");
            }

            var (options, attention) = checkpoint.LoadAttentionLayer(l, soma.ForLayer(l));
            if (config.AttentionBias && attention.Bq is null)
            {
                throw new InvalidDataException($"{folder} has no tensor '{p}self_attn.q_proj.bias', yet config.json sets attention_bias true.");
            }

            bool full = soma.AllFullAttention || (soma.FullAttentionLayers?.Contains(l) ?? false);
            list.Add(new DecoderLayerWeights(
                options, attention, full,
                checkpoint.ReadTensor(p + "input_layernorm.weight", d), checkpoint.ReadTensor(p + "post_attention_layernorm.weight", d),
                checkpoint.ReadTensor(p + "mlp.gate_proj.weight", inter, d), checkpoint.ReadTensor(p + "mlp.up_proj.weight", inter, d),
                checkpoint.ReadTensor(p + "mlp.down_proj.weight", d, inter)));
        }

        var embedding = checkpoint.ReadTensor("model.embed_tokens.weight", v, d);
        var head = config.TieWordEmbeddings ? null : checkpoint.ReadTensor("lm_head.weight", v, d);
        var matrices = Enumerable.Range(0, layers)
            .SelectMany(l => new[] { "gate_proj", "up_proj", "down_proj" }.Select(m => $"model.layers.{l}.mlp.{m}.weight"))
            .Append("model.embed_tokens.weight").Concat(head is null ? [] : ["lm_head.weight"]);
        var weights = new CausalLMWeights(config, embedding, head, checkpoint.ReadTensor("model.norm.weight", d), list)
        {
            ProjectionType = matrices.Select(checkpoint.DtypeOf).Distinct().ToArray() switch
            {
                ["F16"] => SomaStorageType.Float16,
                ["BF16"] => SomaStorageType.BFloat16,
                _ => SomaStorageType.Float32,
            },
        };
        weights.Validate();
        return weights;
    }

    /// <summary>
    /// Checks every array's length against the configuration, every value finite, and every layer's attention weights
    /// against its options; throws <see cref="ArgumentException"/> naming the member and the expected shape.
    /// </summary>
    public void Validate()
    {
        int d = ModelDim, v = VocabSize, inter = Config.IntermediateSize;
        if ((long)v * d > Array.MaxLength || (long)inter * d > Array.MaxLength)
        {
            throw new ArgumentException($"vocab_size x hidden_size ({v} x {d}) or intermediate_size x hidden_size is too large for one array.");
        }

        Check(Embedding, (long)v * d, nameof(Embedding), $"[V={v}, D={d}]");
        if (LmHead is not null)
        {
            Check(LmHead, (long)v * d, nameof(LmHead), $"[V={v}, D={d}]");
        }

        Check(FinalNorm, d, nameof(FinalNorm), $"[D={d}]");
        if (Layers.Count != Config.Layers)
        {
            throw new ArgumentException($"Layers has {Layers.Count} entries; config.json has num_hidden_layers {Config.Layers}.", nameof(Layers));
        }

        for (int l = 0; l < Layers.Count; l++)
        {
            var layer = Layers[l];
            if (layer.Options.ModelDim != d)
            {
                throw new ArgumentException($"Layers[{l}].Options.ModelDim is {layer.Options.ModelDim}; expected D = {d}.", nameof(Layers));
            }

            layer.Attention.Validate(layer.Options);
            Check(layer.InputNorm, d, $"Layers[{l}].InputNorm", $"[D={d}]");
            Check(layer.PostAttentionNorm, d, $"Layers[{l}].PostAttentionNorm", $"[D={d}]");
            Check(layer.Gate, (long)inter * d, $"Layers[{l}].Gate", $"[I={inter}, D={d}]");
            Check(layer.Up, (long)inter * d, $"Layers[{l}].Up", $"[I={inter}, D={d}]");
            Check(layer.Down, (long)d * inter, $"Layers[{l}].Down", $"[D={d}, I={inter}]");
        }
    }

    private static void Check(float[] values, long expected, string name, string shape)
    {
        if (values is null)
        {
            throw new ArgumentNullException(name, $"{name} is null; expected {shape}.");
        }

        Guard.Length<float>(values, expected, name, shape);
        Guard.Finite(values, name);
    }
}
