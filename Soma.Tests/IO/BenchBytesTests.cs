using Soma;
using Soma.Cli.Bench;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.IO;

/// <summary>
/// The benchmark's byte counts (bytes a decode step must read, a standard KV cache's size) follow the layer's storage
/// types: a 16-bit ring halves the cached rows on both sides, 16-bit weights halve the weights.
/// </summary>
public sealed class BenchBytesTests
{
    [Theory]
    [InlineData(SomaStorageType.Float32)]
    [InlineData(SomaStorageType.Float16)]
    [InlineData(SomaStorageType.BFloat16)]
    public void KvRowBytes_IsWhatTheStandardBaselineAllocatesPerToken(SomaStorageType ring)
    {
        var o = new SomaLayerOptions(12, 4, 2, 6, window: 5) with { RingStorage = ring };
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu));
        using var layer = engine.CreateStandardAttentionLayer(o, TestData.Weights(o, seed: 1), kvCapacity: 10);

        layer.StateBytes.Should().Be(10 * Measure.KvRowBytes(o), "the runtime's KV cache of 10 tokens");
        (Measure.DecodeBytes(o, 10, standard: true) - Measure.DecodeBytes(o, 9, standard: true)).Should().Be(Measure.KvRowBytes(o), "one more cached row");
        (Measure.DecodeBytes(o, 100, standard: false) - Measure.DecodeBytes(o, 0, standard: true))
            .Should().Be(o.StateBytes - Measure.KvRowBytes(o), "Soma reads its W ring rows and the field: the state, whatever the history");
    }

    [Fact]
    public void DecodeBytes_CountWeightsInTheirStorageType()
    {
        var o = new SomaLayerOptions(12, 4, 2, 6, window: 5);
        long d = 12, q = 4 * 6, kv = 2 * 6, elements = d * (q + 2 * kv) + q * d;
        long fp32 = Measure.DecodeBytes(o, 3, standard: false);
        long bf16 = Measure.DecodeBytes(o with { WeightStorage = SomaStorageType.BFloat16 }, 3, standard: false);

        (fp32 - bf16).Should().Be(2 * elements, "each weight takes 2 bytes less; the biases stay fp32");
    }
}
