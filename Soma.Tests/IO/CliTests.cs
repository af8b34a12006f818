using Soma;
using Soma.Cli;
using Soma.IO;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.IO;

/// <summary>`soma run` in-process on a checkpoint, inputs and Soma options the test writes.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("soma-cli-").FullName;

    [Fact]
    public void Run_WritesTheLayersOutputs_AndStateFilesContinueTheSequence()
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 3, ropeTheta: 1000.0);
        var layers = new[] { TestData.Weights(o, seed: 170, biases: true), TestData.Weights(o, seed: 171, biases: true) };
        FakeCheckpoint.Write(folder, layers, sharded: false, halfKey: null);
        string options = Path.Combine(folder, "soma.json");
        File.WriteAllText(options, "{\"window\": 3, \"gamma\": [0.9, 0.5], \"alpha\": 0.25}");
        var x = TestData.Inputs(12, 10, seed: 172);
        string first = Path.Combine(folder, "x1.npy"), second = Path.Combine(folder, "x2.npy");
        NpyFile.Write(first, x.AsSpan(0, 7 * 12), 7, 12);
        NpyFile.Write(second, x.AsSpan(7 * 12), 3, 12);
        string y1 = Path.Combine(folder, "y1.npy"), y2 = Path.Combine(folder, "y2.npy"), state = Path.Combine(folder, "s.soma");
        var output = new StringWriter();
        var error = new StringWriter();

        int rc1 = SomaCli.Invoke(new[] { "run", "--model", folder, "--layer", "1", "--soma", options, "--input", first, "--output", y1, "--accelerator", "cpu", "--decode-from", "4", "--state-out", state }, output, error);
        int rc2 = SomaCli.Invoke(new[] { "run", "--model", folder, "--layer", "1", "--soma", options, "--input", second, "--output", y2, "--accelerator", "cpu", "--state-in", state }, output, error);

        error.ToString().Should().BeEmpty();
        (rc1, rc2).Should().Be((0, 0));
        output.ToString().Should().Contain("7 tokens on cpu").And.Contain("decode 3 at");
        using var checkpoint = HuggingFaceCheckpoint.Open(folder);
        var (lo, lw) = checkpoint.LoadAttentionLayer(1, SomaParameters.Load(options));
        var reference = new SomaReference(lo, lw);
        var expected = reference.Run(reference.CreateState(), x);
        var produced = NpyFile.Read(y1).Data.Concat(NpyFile.Read(y2).Data).ToArray();
        Tolerance.ShouldMatch(produced, expected, "y from soma run (prefill, decode, state file, continue)");
    }

    [Fact]
    public void Verify_WithModel_ChecksTheCheckpointLayerAgainstTheReference()
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 3, ropeTheta: 1000.0);
        FakeCheckpoint.Write(
            folder, new[] { TestData.Weights(o, seed: 174, biases: true) }, sharded: true, halfKey: null,
            config: new Dictionary<string, object?> { ["rope_scaling"] = new Dictionary<string, object> { ["type"] = "linear", ["factor"] = 2.0 } });
        string x = Path.Combine(folder, "x.npy");
        // float64, NumPy's default dtype: converted to float32 on reading.
        File.WriteAllBytes(x, NpyWriter.Bytes("<f8", "False", "(6, 12)", NpyWriter.F64(TestData.Inputs(12, 6, seed: 175).Select(v => (double)v).ToArray())));

        var output = new StringWriter();
        var error = new StringWriter();
        int rc = SomaCli.Invoke(new[] { "verify", "--model", folder, "--layer", "0", "--input", x, "--accelerator", "cpu" }, output, error);

        rc.Should().Be(0);
        output.ToString().Should().Contain("6 tokens on cpu").And.Contain("PASS");
        error.ToString().Trim().Should().StartWith("note: config.json asks for RoPE scaling 'linear'", "what the model does that Soma does not is said, not fatal");
    }

    [Fact]
    public void UserMistakes_AreOneLineErrors_WithExitCode2()
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 3);
        FakeCheckpoint.Write(folder, new[] { TestData.Weights(o, seed: 173) }, sharded: false, halfKey: null);
        string x = Path.Combine(folder, "x.npy");
        NpyFile.Write(x, new float[10], 2, 5);
        var error = new StringWriter();

        int wrongWidth = SomaCli.Invoke(new[] { "run", "--model", folder, "--layer", "0", "--input", x, "--output", Path.Combine(folder, "y.npy"), "--accelerator", "cpu" }, TextWriter.Null, error);
        int unknownOption = SomaCli.Invoke(new[] { "run", "--modle", folder }, TextWriter.Null, error);
        int badAccelerator = SomaCli.Invoke(new[] { "verify", "--accelerator", "tpu", "--tokens", "4", "--decode", "1" }, TextWriter.Null, error);
        int noCheckpoint = SomaCli.Invoke(new[] { "run", "--model", Path.Combine(folder, "none"), "--layer", "0", "--input", x, "--output", "y.npy" }, TextWriter.Null, error);
        int badDecodeFrom = SomaCli.Invoke(new[] { "run", "--model", folder, "--layer", "0", "--input", x, "--output", "y.npy", "--decode-from", "x" }, TextWriter.Null, error);

        new[] { wrongWidth, unknownOption, badAccelerator, noCheckpoint, badDecodeFrom }.Should().AllBeEquivalentTo(2);
        error.ToString().Should().Contain("error: --input has shape (2, 5); expected (n, 12)")
            .And.Contain("error: Unrecognized command or argument '--modle'")
            .And.Contain("error: Unknown accelerator 'tpu'")
            .And.Contain("has no config.json")
            .And.Contain("'x'");
        error.ToString().Should().NotContain("   at ", "a user mistake never prints a stack trace");
    }

    [Theory]
    [InlineData("v2 header length 2^31")]
    [InlineData("536870911 floats in 160 bytes")]
    [InlineData("500 million floats, 20 present")]
    [InlineData("2^62 float64s")]
    [InlineData("float64 beyond float32")]
    [InlineData("int64 token ids")]
    [InlineData("a directory")]
    public void Run_OnAHostileInput_IsOneErrorLineNamingTheFile_WithExitCode2(string name)
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 3);
        FakeCheckpoint.Write(folder, new[] { TestData.Weights(o, seed: 176) }, sharded: false, halfKey: null);
        string x = Path.Combine(folder, "x.npy"), y = Path.Combine(folder, "y.npy");
        switch (name)
        {
            case "a directory":
                Directory.CreateDirectory(x);
                break;
            case "float64 beyond float32":
                File.WriteAllBytes(x, NpyWriter.Bytes("<f8", "False", "(1, 12)", NpyWriter.F64(Enumerable.Range(0, 12).Select(i => i == 5 ? 1e39 : i).ToArray())));
                break;
            case "int64 token ids":
                File.WriteAllBytes(x, NpyWriter.Bytes("<i8", "False", "(3,)", NpyWriter.I64(1, 2, 3)));
                break;
            default:
                File.WriteAllBytes(x, Hostile.Npy(name));
                break;
        }

        var error = new StringWriter();
        int rc = SomaCli.Invoke(new[] { "run", "--model", folder, "--layer", "0", "--input", x, "--output", y, "--accelerator", "cpu" }, TextWriter.Null, error);

        rc.Should().Be(2);
        error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().ContainSingle()
            .Which.Should().StartWith("error: --input").And.Contain(x).And.NotContain("   at ");
        File.Exists(y).Should().BeFalse();
    }

    [Fact]
    public void Run_OnACheckpointWhoseHeaderLies_IsOneErrorLineNamingTheFile_WithExitCode2()
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 3);
        FakeCheckpoint.Write(folder, new[] { TestData.Weights(o, seed: 177) }, sharded: false, halfKey: null);
        string weights = Path.Combine(folder, "model.safetensors"), x = Path.Combine(folder, "x.npy");
        File.WriteAllBytes(weights, Hostile.Safetensors());
        File.WriteAllBytes(x, NpyWriter.Bytes("<f8", "False", "(2, 12)", NpyWriter.F64(new double[24])));
        var error = new StringWriter();

        int rc = SomaCli.Invoke(new[] { "run", "--model", folder, "--layer", "0", "--input", x, "--output", Path.Combine(folder, "y.npy"), "--accelerator", "cpu" }, TextWriter.Null, error);

        rc.Should().Be(2);
        error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Should().ContainSingle()
            .Which.Should().Be($"error: --model: {weights}: tensor 'w' (F32, shape [4611686018427387904]) has more than 9223372036854775807 bytes: its shape is not real.");
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("run", "--help")]
    [InlineData("verify", "-h")]
    [InlineData("bench", "--help")]
    public void Help_ListsOptionsAndExitCodes(params string[] args)
    {
        var output = new StringWriter();

        int rc = SomaCli.Invoke(args, output, TextWriter.Null);

        rc.Should().Be(0);
        output.ToString().Should().Contain("Usage:").And.Contain("--accelerator").And.Contain("exit codes: 0 success, 1 a check failed");
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
