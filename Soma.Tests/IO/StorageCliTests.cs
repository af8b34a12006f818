using Soma;
using Soma.Cli;
using Soma.IO;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.IO;

/// <summary>`soma run`, `soma verify` and the benchmark with `--weight-type`, `--ring-type` and `--convert-ring`.</summary>
public sealed class StorageCliTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("soma-cli16-").FullName;

    [Fact]
    public void Run_StoresWeightsAndRingInTheTypesAsked_AndStateFilesKeepTheRingType()
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 3, ropeTheta: 1000.0);
        FakeCheckpoint.Write(folder, new[] { TestData.Weights(o, seed: 350, biases: true) }, sharded: false, halfKey: null);
        var x = TestData.Inputs(12, 8, seed: 351);
        string first = Path.Combine(folder, "x1.npy"), second = Path.Combine(folder, "x2.npy");
        NpyFile.Write(first, x.AsSpan(0, 5 * 12), 5, 12);
        NpyFile.Write(second, x.AsSpan(5 * 12), 3, 12);
        string y1 = Path.Combine(folder, "y1.npy"), y2 = Path.Combine(folder, "y2.npy"), y3 = Path.Combine(folder, "y3.npy");
        string state = Path.Combine(folder, "s.soma");
        string[] Run(string input, string y, params string[] more) =>
            new[] { "run", "--model", folder, "--layer", "0", "--input", input, "--output", y, "--accelerator", "cpu" }.Concat(more).ToArray();
        var error = new StringWriter();

        int rc1 = SomaCli.Invoke(Run(first, y1, "--weight-type", "bf16", "--ring-type", "f16", "--state-out", state), TextWriter.Null, error);
        int rc2 = SomaCli.Invoke(Run(second, y2, "--weight-type", "bf16", "--ring-type", "f16", "--state-in", state), TextWriter.Null, error);
        error.ToString().Should().BeEmpty();
        (rc1, rc2).Should().Be((0, 0));
        File.ReadAllText(state).Should().Contain("\"ring_dtype\":\"f16\"");

        int refused = SomaCli.Invoke(Run(second, y3, "--weight-type", "bf16", "--state-in", state), TextWriter.Null, error);
        refused.Should().Be(2);
        error.ToString().Should().Contain("'f16'").And.Contain("ConvertRing");
        int converted = SomaCli.Invoke(Run(second, y3, "--weight-type", "bf16", "--state-in", state, "--convert-ring"), TextWriter.Null, TextWriter.Null);
        converted.Should().Be(0);

        using var checkpoint = HuggingFaceCheckpoint.Open(folder);
        var (lo, lw) = checkpoint.LoadAttentionLayer(0, new SomaParameters());
        var reference = new SomaReference(lo with { WeightStorage = SomaStorageType.BFloat16, RingStorage = SomaStorageType.Float16 }, lw);
        var expected = reference.Run(reference.CreateState(), x);
        var produced = NpyFile.Read(y1).Data.Concat(NpyFile.Read(y2).Data).ToArray();
        Tolerance.ShouldMatch(
            produced, expected, "y of bf16 weights and an fp16 ring through a state file", Internal.StorageTypes.OutputBound(SomaStorageType.Float16).Relative);
    }

    [Fact]
    public void UnknownTypes_AreOneLineErrors()
    {
        var error = new StringWriter();
        int rc = SomaCli.Invoke(new[] { "verify", "--accelerator", "cpu", "--tokens", "4", "--decode", "1", "--ring-type", "f8" }, TextWriter.Null, error);
        rc.Should().Be(2);
        error.ToString().Should().Contain("--ring-type f8: expected f32, f16 or bf16");
    }

    [Theory]
    [InlineData("bench")]
    [InlineData(null)]
    public void TheBenchmark_RefusesAnUnknownType_BeforeItRuns(string? command)
    {
        var error = new StringWriter();
        var args = new[] { "--accelerator", "cpu", "--weight-type", "q4" };
        int rc = SomaCli.Invoke(command is null ? args : args.Prepend(command).ToArray(), TextWriter.Null, error);

        rc.Should().Be(2);
        error.ToString().Trim().Should().Be("error: --weight-type q4: expected f32, f16 or bf16.");
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
