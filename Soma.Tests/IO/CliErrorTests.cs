using System.Text.Json;
using Soma;
using Soma.Cli;
using Soma.Cli.Bench;
using Soma.IO;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.IO;

/// <summary>
/// The `soma` command line in-process: every failure one `error:` line naming the option and exit 2, inputs made
/// without NumPy (`--input random:N[:seed]`), what the installed tool leaves to Soma.Bench, and progress in logs.
/// </summary>
public sealed class CliErrorTests : IDisposable
{
    private static readonly SomaLayerOptions Shape = new(12, 4, 2, 4, window: 3, ropeTheta: 1000.0);
    private readonly string folder = Directory.CreateTempSubdirectory("soma-cli-errors-").FullName;

    public static TheoryData<Exception, string> ExpectedFailures() => new()
    {
        { new OverflowException("Arithmetic operation resulted in an overflow."), "error: a size or count is too large to compute (arithmetic overflow)" },
        { new OutOfMemoryException("Array dimensions exceeded supported range."), "error: not enough memory (Array dimensions exceeded supported range)" },
        { new IOException("No space left on device : '/tmp/y.npy'"), "error: No space left on device : '/tmp/y.npy'" },
        { new InvalidDataException("x.npy: truncated\nat byte 10"), "error: x.npy: truncated at byte 10" },
        { new JsonException("'}' is invalid."), "error: '}' is invalid." },
        { new ArgumentOutOfRangeException("layer", 7, "layer must lie in [0, 2)."), "error: layer must lie in [0, 2). (got 7)" },
    };

    [Theory]
    [MemberData(nameof(ExpectedFailures))]
    public void EveryExpectedFailure_IsOneErrorLine_WithExitCode2(Exception failure, string line)
    {
        var error = new StringWriter();

        int rc = CliErrors.Guarded(error, () => throw failure);

        rc.Should().Be(CliErrors.UsageError);
        error.ToString().Should().Be(line + Environment.NewLine);
    }

    [Fact]
    public void AnUnexpectedFailure_NamesItsType_AndShowsTheStackTraceOnlyOnRequest()
    {
        var quiet = new StringWriter();
        var verbose = new StringWriter();
        static int Bug() => throw new NullReferenceException("Object reference not set to an instance of an object.");

        int rcQuiet = CliErrors.Guarded(quiet, Bug);
        int rcVerbose = CliErrors.Guarded(verbose, Bug, verbose: true);

        (rcQuiet, rcVerbose).Should().Be((2, 2));
        quiet.ToString().Should().Be(
            "error: unexpected NullReferenceException: Object reference not set to an instance of an object. " +
            $"(a bug in soma; --verbose or SOMA_DEBUG=1 prints the stack trace){Environment.NewLine}");
        verbose.ToString().Should().StartWith("error: unexpected NullReferenceException: Object reference not set")
            .And.Contain("   at ", "--verbose asks for the stack trace");
    }

    [Fact]
    public void Verbose_OnTheCommandLine_AddsTheStackTraceOfAnUnexpectedFailure()
    {
        var bug = new CliExtensions(_ => throw new IndexOutOfRangeException("Index was outside the bounds of the array."), (_, _) => { });
        var quiet = new StringWriter();
        var verbose = new StringWriter();

        int rcQuiet = SomaCli.Invoke(new[] { "bdn" }, TextWriter.Null, quiet, bug);
        int rcVerbose = SomaCli.Invoke(new[] { "bdn", "--verbose" }, TextWriter.Null, verbose, bug);

        (rcQuiet, rcVerbose).Should().Be((2, 2));
        quiet.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries).Should().ContainSingle()
            .Which.Should().StartWith("error: unexpected IndexOutOfRangeException: Index was outside the bounds of the array.");
        verbose.ToString().Should().StartWith("error: unexpected IndexOutOfRangeException").And.Contain("   at ");
    }

    [Fact]
    public void Errors_NameTheOptionTheyCameFrom()
    {
        FakeCheckpoint.Write(folder, new[] { TestData.Weights(Shape, seed: 180) }, sharded: false, halfKey: null);
        string soma = Write("soma.json", "{\"gamma\": [0.9, 1.5]}");
        string threeGammas = Write("three.json", "{\"gamma\": [0.9, 0.5, 0.1]}");
        string badNpy = Write("hostile.npy", "");
        // A v2 header whose length field claims 2^31 bytes.
        File.WriteAllBytes(badNpy, new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0, 0, 0, 0, 0x80 });
        string subfolder = Directory.CreateDirectory(Path.Combine(folder, "adir")).FullName;
        string[] Run(params string[] extra) =>
            new[] { "run", "--model", folder, "--layer", "0", "--output", Path.Combine(folder, "y.npy"), "--accelerator", "cpu" }.Concat(extra).ToArray();

        Lines(Run("--input", "random:4", "--soma", soma)).Should().Equal($"error: --soma: gamma[1] is 1.5 in {soma}; expected 0 <= gamma < 1.");
        Lines(Run("--input", "random:4", "--soma", threeGammas)).Should().Equal(
            $"error: --soma: gamma has 3 values; expected 1 or one per kv-head (2) in {threeGammas}.");
        Lines(Run("--input", subfolder)).Should().Equal($"error: --input {subfolder} is a directory; expected a .npy file (or random:N[:seed]).");
        Lines(Run("--input", "random:4", "--soma", subfolder)).Should().Equal($"error: --soma {subfolder} is a directory; expected a JSON file of Soma options.");
        Lines(Run("--input", badNpy)).Should().ContainSingle().Which.Should().StartWith("error: --input").And.Contain(badNpy);
        Lines(new[] { "run", "--model", folder, "--layer", "abc", "--input", "random:4", "--output", "y.npy" })
            .Should().Equal("error: --layer 'abc': expected an integer (see soma --help)");
        Lines(new[] { "run", "--modle", folder }).Should().ContainSingle("several parse mistakes are still one line")
            .Which.Should().StartWith("error: Unrecognized command or argument '--modle'").And.Contain("Option '--layer' is required");
        Lines(Run("--input", "random:4").Select(a => a == "0" ? "3" : a).ToArray())
            .Should().Equal($"error: --layer 3: expected 0 <= layer < 1 (num_hidden_layers in {folder}).");
        Lines(new[] { "run", "--model", folder, "--layer", "0", "--input", "random:4", "--output", subfolder, "--accelerator", "cpu" })
            .Should().Equal($"error: --output {subfolder} is a directory; expected a .npy file to write.");
        Lines(Run("--input", "random:0")).Should().Equal(
            "error: --input random:0: expected random:N or random:N:SEED, N a token count >= 1 and SEED an integer.");
    }

    [Fact]
    public void AnAbsentAccelerator_SaysWhatToDoNext()
    {
        var present = SomaEngine.ListDevices().Where(d => d.Usable).Select(d => d.Kind).ToHashSet();
        var absent = new[] { SomaAcceleratorKind.Cuda, SomaAcceleratorKind.OpenCL }.Where(k => !present.Contains(k)).ToArray();
        if (absent.Length == 0)
        {
            return; // a machine with both a CUDA and an OpenCL device has no absent accelerator to ask for
        }

        string name = absent[0].ToString().ToLowerInvariant();
        var lines = Lines(new[] { "verify", "--accelerator", name, "--tokens", "4", "--decode", "1" });

        lines.Should().ContainSingle().Which.Should().StartWith($"error: --accelerator {name}: ")
            .And.EndWith("Run `soma devices` to see the accelerators present, or use --accelerator cpu.");
    }

    [Fact]
    public void RandomInput_MakesTheDocumentedX_ForRunAndVerify()
    {
        FakeCheckpoint.Write(folder, new[] { TestData.Weights(Shape, seed: 181, biases: true) }, sharded: false, halfKey: null);
        string y = Path.Combine(folder, "y.npy");
        var output = new StringWriter();
        var error = new StringWriter();

        int run = SomaCli.Invoke(new[] { "run", "--model", folder, "--layer", "0", "--input", "random:6:42", "--output", y, "--decode-from", "4", "--accelerator", "cpu" }, output, error);
        int verify = SomaCli.Invoke(new[] { "verify", "--model", folder, "--layer", "0", "--input", "random:5", "--accelerator", "cpu" }, output, error);

        error.ToString().Should().BeEmpty();
        (run, verify).Should().Be((0, 0));
        output.ToString().Should().Contain("6 tokens on cpu").And.Contain("5 tokens on cpu").And.Contain("PASS");
        CliInput.ParseRandom("random:6:42").Should().Be((6, 42));
        CliInput.ParseRandom("random:5").Should().Be((5, 0), "the seed is 0 when absent");
        var x = QuickRun.RandomInputs(12, 6, 42);
        x.Should().OnlyContain(v => v >= -1f && v < 1f, "the documented distribution: uniform in [-1, 1)");
        using var checkpoint = HuggingFaceCheckpoint.Open(folder);
        var (o, w) = checkpoint.LoadAttentionLayer(0, new SomaParameters());
        var reference = new SomaReference(o, w);
        Tolerance.ShouldMatch(NpyFile.Read(y).Data, reference.Run(reference.CreateState(), x), "y of soma run --input random:6:42");
    }

    [Fact]
    public void TheInstalledTool_SendsBdnAndPlotToSomaBench_WhichAddsThem()
    {
        string plot = Path.Combine(folder, "decode.png");

        var plotLines = Lines(new[] { "--plot", plot, "--accelerator", "cpu" });
        var bdnLines = Lines(new[] { "bdn", "--list", "flat" });
        string[]? bdnArgs = null;
        int rc = SomaCli.Invoke(
            new[] { "bdn", "--list", "flat" }, TextWriter.Null, TextWriter.Null,
            new CliExtensions(a => { bdnArgs = a; return 0; }, (_, _) => { }));

        plotLines.Should().ContainSingle().Which.Should().StartWith("error: --plot is not part of the installed soma tool")
            .And.EndWith("dotnet run -c Release --project Soma.Bench -- --plot ...");
        bdnLines.Should().ContainSingle().Which.Should().StartWith("error: bdn is not part of the installed soma tool");
        File.Exists(plot).Should().BeFalse();
        rc.Should().Be(0);
        bdnArgs.Should().Equal("--list", "flat");
    }

    [Fact]
    public void BenchProgress_OutsideATerminal_PrintsOneLinePerPhase()
    {
        var log = new StringWriter();

        BenchProgress.Run(interactive: false, log, progress =>
        {
            var first = progress.Start("cpu small: fidelity", 2);
            first.Increment(1);
            first.Increment(1);
            first.Stop();
            var second = progress.Start("cpu small: decode vs history", 1);
            second.MaxValue = 3;
            second.Increment(3);
            second.Stop();
        });

        var lines = log.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        lines.Should().HaveCount(2);
        lines[0].Should().StartWith("cpu small: fidelity: done, 2 steps in ");
        lines[1].Should().StartWith("cpu small: decode vs history: done, 3 steps in ");
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("bench", "--help")]
    public void Help_SaysJsonIsOptional_AndHowToSeeAStackTrace(params string[] args)
    {
        var output = new StringWriter();

        SomaCli.Invoke(args, output, TextWriter.Null).Should().Be(0);

        output.ToString().Should().Contain("--json").And.Contain("none without it").And.Contain("--verbose").And.Contain("SOMA_DEBUG=1");
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string[] Lines(string[] args)
    {
        var error = new StringWriter();
        int rc = SomaCli.Invoke(args, TextWriter.Null, error);
        rc.Should().Be(CliErrors.UsageError, string.Join(' ', args) + " is a mistake: " + error);
        return error.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
