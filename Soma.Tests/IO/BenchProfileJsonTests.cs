using System.Text.Json;
using Soma.Cli.Bench;

namespace Soma.Tests.IO;

/// <summary>The benchmark JSON's <c>profile</c> object of a decode row: the runtime's counts of a real decode step, under the names docs/benchmarks.md lists.</summary>
public sealed class BenchProfileJsonTests
{
    [Fact]
    public void DecodeRow_CarriesTheProfileOfTheStep_InSnakeCase()
    {
        var o = new SomaLayerOptions(8, 2, 1, 4, window: 4, ropeTheta: 10000.0);
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu));
        using var layer = engine.CreateLayer(o, SomaLayerWeights.CreateRandom(o, 1));
        using var session = layer.CreateSession();
        session.Decode(new float[o.ModelDim]);
        var row = new DecodeRecord(1, 1, 1, 1, 1, 1, 1, 1, 1, null, null, 1, 1, ProfileRecord.Of(layer.LastCallProfile));

        using var json = JsonDocument.Parse(JsonSerializer.Serialize(row, BenchFile.Json));
        var profile = json.RootElement.GetProperty("profile");
        profile.EnumerateObject().Select(p => p.Name).Should().Equal(
            "passes", "launches", "launches_by_kernel", "uploads", "downloads", "host_waits", "device_copies", "device_bytes_read",
            "device_bytes_written", "flops", "managed_bytes_allocated");
        profile.GetProperty("launches").GetInt32().Should().Be(6);
        profile.GetProperty("launches_by_kernel").GetProperty("attention").GetInt32().Should().Be(1);
        (profile.GetProperty("uploads").GetInt32(), profile.GetProperty("downloads").GetInt32(), profile.GetProperty("host_waits").GetInt32())
            .Should().Be((1, 1, 1));
        profile.GetProperty("flops").GetInt64().Should().Be(layer.LastCallProfile!.Flops).And.BePositive();
        ProfileRecord.Of(null).Should().BeNull();
    }
}
