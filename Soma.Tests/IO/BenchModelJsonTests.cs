using System.Text.Json;
using Soma.Cli.Bench;

namespace Soma.Tests.IO;

/// <summary>The benchmark JSON's <c>model</c> section: a micro decoder measured on the CPU accelerator, under the names docs/benchmarks.md lists.</summary>
public sealed class BenchModelJsonTests
{
    private static readonly BenchDecoder Micro = new("micro", 16, 24, 2, 4, 2, 4, 40, 4, 10000.0);

    [Fact]
    public void ModelSection_TimesBothModels_AndReportsTheRuntimesStateSizes_InSnakeCase()
    {
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu));
        var plan = BenchPlan.For(SomaAcceleratorKind.Cpu, null, full: false) with
        {
            Decoder = Micro, DecoderPrefillTokens = 12, DecoderRepeats = 1, DecoderHistories = [30], DecoderDecodeSteps = 3, DecoderDecodeWarmup = 1,
        };
        long bytes = engine.AllocatedBytes;

        var record = new ModelBench(engine, plan, seed: 5).Run(new BenchPhase("model", ModelBench.Units, null, null));

        engine.AllocatedBytes.Should().Be(bytes, "the section disposes every model and layer it builds");
        using var json = JsonDocument.Parse(JsonSerializer.Serialize(record, BenchFile.Json));
        var root = json.RootElement;
        Names(root).Should().Equal("shapes", "prefill", "decode", "memory", "seconds");
        Names(root.GetProperty("shapes")[0]).Should().Equal("name", "d", "i", "layers", "h", "hkv", "dh", "v", "w", "parameters", "weight_bytes", "dtype");
        Names(root.GetProperty("prefill")[0]).Should().Equal("shape", "tokens", "soma_tok_s", "standard_tok_s", "ratio", "repeats");
        Names(root.GetProperty("decode")[0]).Should().Equal("shape", "history", "steps", "soma_ms", "standard_ms", "soma_tok_s", "standard_tok_s", "ratio");
        Names(root.GetProperty("memory")[0]).Should().Equal("shape", "history", "soma_bytes", "standard_bytes", "ratio");

        record.Shapes.Select(s => s.Name).Should().Equal("micro", "qwen2.5-0.5b");
        var prefill = record.Prefill.Should().ContainSingle().Subject;
        (prefill.Shape, prefill.Tokens).Should().Be(("micro", 12));
        prefill.SomaTokS.Should().BePositive();
        prefill.Ratio.Should().BeApproximately(prefill.SomaTokS / prefill.StandardTokS, 1e-9 * prefill.Ratio);
        record.Decode.Select(d => (d.Shape, d.History, d.Steps)).Should().Equal(("micro", 12L, 3), ("micro", 30L, 3));
        var decode = record.Decode[1];
        decode.SomaTokS.Should().BeApproximately(1000 / decode.SomaMs, 1e-9 * decode.SomaTokS);
        decode.Ratio.Should().BeApproximately(decode.StandardMs / decode.SomaMs, 1e-9 * decode.Ratio);
    }

    [Fact]
    public void Memory_IsTheRuntimesStateSize_ConstantForSoma_GrowingForTheKvCache()
    {
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu));
        var plan = BenchPlan.For(SomaAcceleratorKind.Cpu, null, full: false);
        var bench = new ModelBench(engine, plan, seed: 5);
        long somaMicro;
        using (var model = engine.CreateCausalLM(Micro.Random(5, standard: false)))
        {
            somaMicro = model.StateBytes;
        }

        var micro = bench.Memory(Micro);
        micro.Select(m => m.History).Should().Equal(4096, 65536, 1048576);
        micro.Should().OnlyContain(m => m.SomaBytes == somaMicro, "every layer's Soma state is fixed; the model reports their sum");
        micro.Select(m => m.StandardBytes).Should().Equal(micro.Select(m => 2L * m.History * 2 * 4 * sizeof(float) * 2));

        // Qwen2.5-0.5B (24 layers, Hkv 2, dh 64, W 256): a 2 x 256 x 128 fp32 ring and a 128 fp64 field per layer,
        // against 2 x n x 128 fp32 per layer; 1M tokens of KV cache are 24 GiB, Soma's state stays 6.0 MiB.
        var qwen = bench.Memory(BenchDecoder.Qwen05B);
        qwen.Should().OnlyContain(m => m.SomaBytes == 24L * (2 * 256 * 128 * 4 + 128 * 8));
        qwen[^1].StandardBytes.Should().Be(24L << 30);
        qwen[^1].Ratio.Should().BeApproximately((24.0 * (1 << 30)) / (24L * 263_168), 1e-9);
        BenchDecoder.Qwen05B.Parameters.Should().Be(494_032_768, "the published parameter count of Qwen2.5-0.5B (tied embeddings)");
    }

    private static List<string> Names(JsonElement element) => element.EnumerateObject().Select(p => p.Name).ToList();
}
