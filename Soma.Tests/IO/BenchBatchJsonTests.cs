using System.Text.Json;
using Soma.Cli.Bench;

namespace Soma.Tests.IO;

/// <summary>
/// The benchmark JSON's <c>shape</c> record (with the layer's weight and ring storage types) and its batched-decode
/// rows (device bytes of the step from its call profile, and the bandwidth they make), under the names docs/benchmarks.md lists.
/// </summary>
public sealed class BenchBatchJsonTests
{
    [Fact]
    public void ShapeRecord_CarriesTheWeightAndRingStorageTypes_AfterTheExistingFields()
    {
        var o = BenchShapes.Qwen7B() with { WeightStorage = SomaStorageType.BFloat16, RingStorage = SomaStorageType.Float16 };

        using var json = JsonDocument.Parse(JsonSerializer.Serialize(ShapeRecord.Of("qwen7b", o), BenchFile.Json));
        var root = json.RootElement;
        root.EnumerateObject().Select(p => p.Name).Should().Equal(
            "name", "d", "h", "hkv", "dh", "w", "include_current", "rope_theta", "dtype", "weight_type", "ring_type");
        (root.GetProperty("weight_type").GetString(), root.GetProperty("ring_type").GetString()).Should().Be(("bf16", "f16"));
        root.GetProperty("d").GetInt32().Should().Be(3584);
        ShapeRecord.Of("small", BenchShapes.ByName("small")).Should().Match<ShapeRecord>(s => s.WeightType == "f32" && s.RingType == "f32");
    }

    [Fact]
    public void BatchRow_ReportsTheStepsDeviceBytesFromItsProfile_AndTheBandwidthTheyMake()
    {
        var o = new SomaLayerOptions(8, 2, 1, 4, window: 4, ropeTheta: 10000.0);
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu));
        using var layer = engine.CreateLayer(o, SomaLayerWeights.CreateRandom(o, 1));
        using var pool = layer.CreatePool(3);
        var sessions = Enumerable.Range(0, 3).Select(_ => pool.OpenSession()).ToArray();
        layer.DecodeBatch(sessions, new float[3 * o.ModelDim]);
        var profile = layer.LastCallProfile!;
        long bytes = profile.DeviceBytesRead + profile.DeviceBytesWritten;

        var row = BatchRecord.Of(3, 0, stepMs: 2.0, profile, peakBandwidth: 1e9, modelLayers: 2, modelStepMs: 4.0);

        row.DeviceBytesPerStep.Should().Be(bytes).And.BePositive();
        row.GbS.Should().BeApproximately(bytes / 2e-3 / 1e9, 1e-12);
        row.PeakPct.Should().BeApproximately(100 * bytes / 2e-3 / 1e9, 1e-9);
        (row.TokensPerSecond, row.ModelTokensPerSecond).Should().Be((1500, 750));
        using var json = JsonDocument.Parse(JsonSerializer.Serialize(row, BenchFile.Json));
        json.RootElement.EnumerateObject().Select(p => p.Name).Should().Equal(
            "batch", "history", "step_ms", "tokens_per_second", "model_layers", "model_step_ms", "model_tokens_per_second", "device_bytes_per_step", "gb_s",
            "peak_pct");
        var unknown = BatchRecord.Of(3, 0, 2.0, null, null, 2, 4.0);
        (unknown.DeviceBytesPerStep, unknown.GbS, unknown.PeakPct).Should().Be((null, null, null));
        BatchRecord.Of(3, 0, 2.0, profile, null, 2, 4.0).PeakPct.Should().BeNull("no peak bandwidth is known for the CPU accelerator");
    }
}
