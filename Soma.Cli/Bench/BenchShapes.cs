using Soma;

namespace Soma.Cli.Bench;

/// <summary>Named layer shapes the benchmark runs.</summary>
internal static class BenchShapes
{
    /// <summary>A small layer that runs in seconds on the CPU accelerator (odd-free but GQA, RoPE, biases on).</summary>
    public static SomaLayerOptions Small(int maxChunk = 256) =>
        new(modelDim: 128, heads: 8, kvHeads: 2, headDim: 16, window: 64, includeCurrent: true, ropeTheta: 10000.0, maxChunkTokens: maxChunk);

    /// <summary>The attention layer of Qwen2.5-7B (D 3584, 28 heads, 4 kv-heads, dh 128) with W = 256.</summary>
    public static SomaLayerOptions Qwen7B(int maxChunk = 1024) =>
        new(modelDim: 3584, heads: 28, kvHeads: 4, headDim: 128, window: 256, includeCurrent: true, ropeTheta: 1000000.0, maxChunkTokens: maxChunk);

    public static SomaLayerOptions ByName(string name) => name.ToLowerInvariant() switch
    {
        "small" => Small(),
        "qwen7b" or "qwen2.5-7b" => Qwen7B(),
        _ => throw new ArgumentException($"Unknown shape '{name}'; expected small or qwen7b.", nameof(name)),
    };

    public static string Describe(SomaLayerOptions o) =>
        $"D={o.ModelDim} H={o.Heads} Hkv={o.KvHeads} dh={o.HeadDim} W={o.Window} " +
        $"includeCurrent={o.IncludeCurrent} rope={(o.RopeTheta is { } t ? t.ToString("G") : "off")}";
}
