using System.Text.Json;

namespace Soma.IO;

/// <summary>
/// The whole-model fields of a Hugging Face config.json for the decoder families Soma runs end to end
/// (<c>LlamaForCausalLM</c>, <c>Qwen2ForCausalLM</c>, <c>MistralForCausalLM</c>); the attention fields are
/// <see cref="HuggingFaceConfig"/>. Anything the model would compute that Soma's decoder does not (another activation,
/// RoPE scaling, experts, MLP biases) is refused by <see cref="Read"/> with an error naming the field.
/// </summary>
/// <param name="Architecture">architectures[0] (or the family's class name when only model_type is given).</param>
/// <param name="VocabSize">vocab_size (V).</param>
/// <param name="IntermediateSize">intermediate_size (I, the MLP width).</param>
/// <param name="RmsNormEps">rms_norm_eps (default 1e-6).</param>
/// <param name="TieWordEmbeddings">tie_word_embeddings: the LM head is the embedding matrix (no lm_head.weight).</param>
/// <param name="Attention">The attention fields (hidden_size, heads, head_dim, layers, rope_theta, sliding window).</param>
public sealed record CausalLMConfig(
    string Architecture, int VocabSize, int IntermediateSize, double RmsNormEps, bool TieWordEmbeddings, HuggingFaceConfig Attention)
{
    /// <summary>The architectures Soma's decoder runs, by config.json class name and model_type.</summary>
    public static IReadOnlyDictionary<string, string> Supported { get; } = new Dictionary<string, string>
    {
        ["LlamaForCausalLM"] = "llama",
        ["Qwen2ForCausalLM"] = "qwen2",
        ["MistralForCausalLM"] = "mistral",
    };

    /// <summary>attention_bias (Llama, Mistral): the q/k/v/o projections have biases, which the checkpoint must then hold.</summary>
    public bool AttentionBias { get; init; }

    /// <summary>D: hidden_size.</summary>
    public int HiddenSize => Attention.HiddenSize;

    /// <summary>num_hidden_layers.</summary>
    public int Layers => Attention.Layers;

    /// <summary>
    /// Reads the whole-model fields of <paramref name="path"/> (a config.json) on top of its attention fields
    /// <paramref name="attention"/>. Throws <see cref="InvalidDataException"/> naming the field for an unknown
    /// architecture, a hidden_act other than silu, rope_scaling, mixture-of-experts fields, mlp_bias, or a missing or
    /// malformed vocab_size or intermediate_size.
    /// </summary>
    public static CausalLMConfig Read(string path, HuggingFaceConfig attention)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(attention);
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = document.RootElement;
        string? Text(string key) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        bool Present(string key) => root.TryGetProperty(key, out var v) && v.ValueKind is not (JsonValueKind.Null or JsonValueKind.False)
            && !(v.ValueKind == JsonValueKind.Number && v.GetDouble() == 0);
        int Positive(string key) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) && i > 0
            ? i
            : throw new InvalidDataException($"{path}: '{key}' must be a positive integer; it is {(root.TryGetProperty(key, out var w) ? w.GetRawText() : "missing")}.");

        string? architecture = root.TryGetProperty("architectures", out var list) && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() > 0
            ? list[0].GetString()
            : Supported.FirstOrDefault(e => e.Value == Text("model_type")).Key;
        if (architecture is null || !Supported.ContainsKey(architecture))
        {
            throw new InvalidDataException(
                $"{path}: architectures '{architecture ?? Text("model_type") ?? "(none)"}' is not supported; expected one of {string.Join(", ", Supported.Keys)}.");
        }

        string act = Text("hidden_act") ?? "silu";
        if (act != "silu")
        {
            throw new InvalidDataException($"{path}: hidden_act '{act}' is not supported; Soma's decoder computes silu (SwiGLU) only.");
        }

        if (attention.RopeScaling is { } scaling)
        {
            throw new InvalidDataException($"{path}: rope_scaling '{scaling}' is not supported; Soma applies plain RoPE with rope_theta.");
        }

        foreach (var key in new[] { "num_local_experts", "num_experts", "n_routed_experts", "moe_intermediate_size" })
        {
            if (Present(key))
            {
                throw new InvalidDataException($"{path}: '{key}' names a mixture of experts, which Soma's decoder does not support.");
            }
        }

        if (Present("mlp_bias"))
        {
            throw new InvalidDataException($"{path}: 'mlp_bias' is true; Soma's decoder has MLPs without biases.");
        }

        double eps = root.TryGetProperty("rms_norm_eps", out var e) && e.ValueKind == JsonValueKind.Number ? e.GetDouble() : 1e-6;
        if (!(eps > 0 && double.IsFinite(eps)))
        {
            throw new InvalidDataException($"{path}: 'rms_norm_eps' is {eps}; expected a finite number > 0.");
        }

        bool tied = root.TryGetProperty("tie_word_embeddings", out var t) && t.ValueKind == JsonValueKind.True;
        return new CausalLMConfig(architecture, Positive("vocab_size"), Positive("intermediate_size"), eps, tied, attention)
        {
            AttentionBias = root.TryGetProperty("attention_bias", out var bias) && bias.ValueKind == JsonValueKind.True,
        };
    }
}
