using System.Text.Json;
using Soma.Cli.Bench;

namespace Soma.Tests.IO;

/// <summary>
/// The benchmark JSON's <c>profile</c> object of a decode row (the runtime's counts of a real decode step) and its
/// <c>predicted</c> array (the performance model on the built-in GPU descriptions), under the names docs/benchmarks.md lists.
/// </summary>
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
        profile.GetProperty("launches").GetInt32().Should().Be(4, "qkv, attention, linear, commit: a decode pass launches no RoPE table and no field scan");
        profile.GetProperty("launches_by_kernel").GetProperty("attention").GetInt32().Should().Be(1);
        (profile.GetProperty("uploads").GetInt32(), profile.GetProperty("downloads").GetInt32(), profile.GetProperty("host_waits").GetInt32())
            .Should().Be((1, 1, 1));
        profile.GetProperty("flops").GetInt64().Should().Be(layer.LastCallProfile!.Flops).And.BePositive();
        ProfileRecord.Of(null).Should().BeNull();
    }

    [Fact]
    public void DecodeAndPrefillRows_CarryPredictionsPerGpuDescription_LabelledAsPredicted()
    {
        var qwen = Soma.Cli.Bench.BenchShapes.Qwen7B();
        var decodeProfile = Profile(SomaCallKind.Decode, 1, uploads: 3, downloads: 1, waits: 2, copies: 3);
        var prefillProfile = Profile(SomaCallKind.Prefill, 4096, uploads: 12, downloads: 4, waits: 12, copies: 3);
        var decode = new DecodeRecord(4096, 1, 1, 1, 1, 1, 1, 1, 1, null, null, 1, 1, Predicted: Predictions.For(qwen, 1, 4096, decodeProfile));
        var prefill = new PrefillRecord(4096, 1, 1, 1, 1, 1, Predicted: Predictions.For(qwen, 4096, 0, prefillProfile));

        using var json = JsonDocument.Parse(JsonSerializer.Serialize(new { decode, prefill }, BenchFile.Json));
        var predicted = json.RootElement.GetProperty("decode").GetProperty("predicted");
        predicted.EnumerateArray().Select(p => p.GetProperty("device").GetString()).Should().Equal("NVIDIA H100 SXM (spec)", "NVIDIA H200 (spec)");
        var h100 = predicted[0];
        h100.EnumerateObject().Select(p => p.Name).Should().Equal(
            "device", "constants", "step_microseconds", "kernel_microseconds", "launch_microseconds", "copy_microseconds", "host_wait_microseconds",
            "tokens_per_second", "passes", "launches", "uploads", "downloads", "host_waits", "device_copies", "device_bytes_read", "device_bytes_written",
            "flops", "kernels");
        h100.GetProperty("constants").GetString().Should().StartWith("none", "no GPU run has calibrated the model");
        (h100.GetProperty("launches").GetInt32(), h100.GetProperty("uploads").GetInt32(), h100.GetProperty("host_waits").GetInt32()).Should().Be((4, 3, 2));
        h100.GetProperty("device_bytes_read").GetInt64().Should().Be(
            118_825_112, "docs/benchmarks.md's decode step on the H100 description, with the split-KV attention's 16 counter bytes and the commit's save");
        var kernels = h100.GetProperty("kernels");
        kernels.EnumerateArray().Select(k => k.GetProperty("kernel").GetString()).Should().Contain(new[] { "qkv-gemv", "attention-decode", "linear-gemv", "commit" });
        kernels[0].EnumerateObject().Select(p => p.Name).Should().Equal(
            "kernel", "launches", "grid", "group_size", "shared_bytes", "groups_per_multiprocessor", "waves", "busy", "bytes_read", "bytes_written", "flops",
            "bound", "microseconds");
        double step = h100.GetProperty("step_microseconds").GetDouble();
        step.Should().BeApproximately(
            kernels.EnumerateArray().Sum(k => k.GetProperty("microseconds").GetDouble()) + h100.GetProperty("copy_microseconds").GetDouble()
            + h100.GetProperty("host_wait_microseconds").GetDouble(), 1e-6);
        predicted[1].GetProperty("step_microseconds").GetDouble().Should().BeLessThan(step, "the H200 has more bandwidth");

        var prefillH100 = json.RootElement.GetProperty("prefill").GetProperty("predicted")[0];
        (prefillH100.GetProperty("passes").GetInt32(), prefillH100.GetProperty("launches").GetInt32()).Should().Be((4, 24));
        prefillH100.GetProperty("tokens_per_second").GetDouble().Should().BeApproximately(4096 / (prefillH100.GetProperty("step_microseconds").GetDouble() * 1e-6), 1e-3);
        Predictions.For(qwen, 1, 4096, null).Should().BeNull();
    }

    /// <summary>A profile with the given copies and waits (the model reads nothing else of it).</summary>
    private static SomaCallProfile Profile(SomaCallKind kind, int rows, int uploads, int downloads, int waits, int copies) =>
        new(kind, rows, 1, 1, new Dictionary<string, int>(), uploads, downloads, waits, copies, 0, 0, 0, TimeSpan.Zero, 0);
}
