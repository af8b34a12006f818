namespace Soma;

/// <summary>
/// Host-side weights of one decoder layer of a <see cref="CausalLMWeights"/>: its attention (a Soma layer, or standard
/// attention with a full KV cache), its two RMSNorm weights and its SwiGLU MLP, in nn.Linear layout ([out, in]).
/// </summary>
/// <param name="Options">The attention layer's shape and behaviour.</param>
/// <param name="Attention">The attention layer's weights (Soma's gamma and alpha included).</param>
/// <param name="FullAttention">True: standard causal attention over every token (a KV cache); false: a Soma layer.</param>
/// <param name="InputNorm">input_layernorm.weight [D].</param>
/// <param name="PostAttentionNorm">post_attention_layernorm.weight [D].</param>
/// <param name="Gate">mlp.gate_proj.weight [I, D].</param>
/// <param name="Up">mlp.up_proj.weight [I, D].</param>
/// <param name="Down">mlp.down_proj.weight [D, I].</param>
public sealed record DecoderLayerWeights(
    SomaLayerOptions Options, SomaLayerWeights Attention, bool FullAttention,
    float[] InputNorm, float[] PostAttentionNorm, float[] Gate, float[] Up, float[] Down);
