using Soma;

namespace Soma.Cli.Bench;

/// <summary>What one accelerator run measures: sizes are smaller on the CPU accelerator so the quick run ends in minutes.</summary>
internal sealed record BenchPlan(
    string ShapeName,
    SomaLayerOptions Shape,
    int[] FidelityLengths,
    long[] Histories,
    int DecodeSteps,
    int DecodeWarmup,
    int DecodeRounds,
    int[] PrefillLengths,
    int PrefillRepeats,
    int LoopTokenCap,
    int VerifyTokens,
    int VerifySteps,
    int[] Batches,
    long BatchHistory,
    int BatchSteps,
    int BatchWarmup,
    int ModelLayers,
    long CapacityBudgetBytes,
    BenchDecoder Decoder,
    int DecoderPrefillTokens,
    int DecoderRepeats,
    long[] DecoderHistories,
    int DecoderDecodeSteps,
    int DecoderDecodeWarmup)
{
    public static BenchPlan For(SomaAcceleratorKind kind, string? shapeName, bool full)
    {
        bool cpu = kind == SomaAcceleratorKind.Cpu;
        shapeName ??= cpu ? "small" : "qwen7b";
        var shape = BenchShapes.ByName(shapeName);
        var prefill = cpu
            ? new[] { 256, 1024, 2048, 4096 }
            : full ? new[] { 256, 1024, 2048, 4096, 16384, 65536 } : new[] { 256, 1024, 2048, 4096, 16384 };
        return new BenchPlan(
            shapeName.ToLowerInvariant(),
            shape,
            FidelityLengths: new[] { 16, 32, 64, 128, 256, 512, 1024 },
            Histories: new long[] { 1024, 4096, 16384, 65536 },
            DecodeSteps: full ? 200 : cpu ? 50 : 100,
            DecodeWarmup: 10,
            DecodeRounds: 3,
            PrefillLengths: prefill,
            PrefillRepeats: 3,
            LoopTokenCap: cpu ? 512 : 1024,
            VerifyTokens: cpu ? 256 : 512,
            VerifySteps: 32,
            Batches: new[] { 1, 8, 64, 256 },
            BatchHistory: 4096,
            BatchSteps: cpu ? 10 : 50,
            BatchWarmup: 3,
            ModelLayers: 4,
            CapacityBudgetBytes: cpu ? 256L << 20 : 16L << 30,
            Decoder: cpu ? BenchDecoder.Tiny : BenchDecoder.Qwen05B,
            DecoderPrefillTokens: cpu ? 256 : 1024,
            DecoderRepeats: 2,
            DecoderHistories: cpu ? new long[] { 4096 } : new long[] { 4096, 16384, 65536 },
            DecoderDecodeSteps: cpu ? 8 : 64,
            DecoderDecodeWarmup: 2);
    }
}
