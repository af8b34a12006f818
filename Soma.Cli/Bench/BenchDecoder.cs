using Soma;
using Soma.IO;

namespace Soma.Cli.Bench;

/// <summary>
/// A whole-decoder shape the benchmark builds with random weights (Qwen2 style: q/k/v biases, tied embeddings, SwiGLU),
/// with Soma layers of window <see cref="Window"/> or, for the baseline, standard attention in every layer.
/// </summary>
/// <param name="Name">The shape's name in the JSON and the report.</param>
/// <param name="D">hidden_size.</param>
/// <param name="Inter">intermediate_size (I).</param>
/// <param name="Layers">num_hidden_layers (L).</param>
/// <param name="Heads">num_attention_heads (H).</param>
/// <param name="KvHeads">num_key_value_heads (Hkv).</param>
/// <param name="HeadDim">head_dim (dh).</param>
/// <param name="Vocab">vocab_size (V).</param>
/// <param name="Window">Soma's W in every layer.</param>
/// <param name="RopeTheta">rope_theta.</param>
internal sealed record BenchDecoder(string Name, int D, int Inter, int Layers, int Heads, int KvHeads, int HeadDim, int Vocab, int Window, double RopeTheta)
{
    /// <summary>A small random model that runs in seconds on the CPU accelerator: the `small` layer shape, 4 layers, V 512.</summary>
    public static BenchDecoder Tiny { get; } = new("tiny", 128, 384, 4, 8, 2, 16, 512, 64, 10000.0);

    /// <summary>The shape of Qwen2.5-0.5B (D 896, I 4864, L 24, H 14, Hkv 2, dh 64, V 151936) with W = 256.</summary>
    public static BenchDecoder Qwen05B { get; } = new("qwen2.5-0.5b", 896, 4864, 24, 14, 2, 64, 151936, SomaParameters.DefaultWindow, 1000000.0);

    /// <summary>The attention layer's options (every layer has the same).</summary>
    public SomaLayerOptions LayerOptions => new(D, Heads, KvHeads, HeadDim, Window, includeCurrent: true, ropeTheta: RopeTheta);

    /// <summary>Parameters of the whole model (fp32).</summary>
    public long Parameters =>
        (long)Vocab * D + D + Layers * ((long)D * HeadDim * (2 * Heads + 2 * KvHeads) + HeadDim * (Heads + 2 * KvHeads) + 2L * D + 3L * D * Inter);

    /// <summary>
    /// Random weights, deterministic for <paramref name="seed"/>: attention from <see cref="SomaLayerWeights.CreateRandom"/>
    /// (random gamma and alpha), norms near 1, projections uniform in +-1/sqrt(fan-in). With <paramref name="standard"/>
    /// every layer is standard attention with a KV cache (the same numbers otherwise).
    /// </summary>
    public CausalLMWeights Random(int seed, bool standard)
    {
        var rng = new Random(seed);
        float[] Uniform(long n, double center, double bound)
        {
            var a = new float[n];
            for (long i = 0; i < n; i++)
            {
                a[i] = (float)(center + (rng.NextDouble() * 2 - 1) * bound);
            }

            return a;
        }

        var options = LayerOptions;
        var layers = Enumerable.Range(0, Layers).Select(l => new DecoderLayerWeights(
            options, SomaLayerWeights.CreateRandom(options, seed + 1 + l, biases: true), standard,
            Uniform(D, 1, 0.2), Uniform(D, 1, 0.2),
            Uniform((long)Inter * D, 0, 1 / Math.Sqrt(D)), Uniform((long)Inter * D, 0, 1 / Math.Sqrt(D)), Uniform((long)D * Inter, 0, 1 / Math.Sqrt(Inter))))
            .ToList();
        var config = new CausalLMConfig(
            "Qwen2ForCausalLM", Vocab, Inter, 1e-6, TieWordEmbeddings: true,
            new HuggingFaceConfig(D, Heads, KvHeads, HeadDim, Layers, RopeTheta, SlidingWindow: null));
        return new CausalLMWeights(config, Uniform((long)Vocab * D, 0, 1), LmHead: null, Uniform(D, 1, 0.2), layers);
    }
}
