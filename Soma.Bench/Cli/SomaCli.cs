using System.CommandLine;
using Soma;
using Soma.Bench.Suite;

namespace Soma.Bench.Cli;

/// <summary>
/// The `soma` command line (System.CommandLine): bench (the default), verify, devices, run and bdn.
/// `soma` with no command runs the quick benchmark, so the benchmark's own options work at the top level.
/// </summary>
internal static class SomaCli
{
    public static int Invoke(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("Soma: a constant-memory attention layer on ILGPU. With no command, the quick benchmark. " + CliErrors.ExitCodes);
        var bench = BenchOptions.Create();
        bench.AddTo(root);
        root.SetAction(parse => CliErrors.Guarded(error, () => bench.Run(parse, args)));

        var benchCommand = new Command("bench", "The benchmark: verify, fidelity, decode vs history, prefill, batches, memory, targets; tables and JSON. " + CliErrors.ExitCodes);
        var benchOptions = BenchOptions.Create();
        benchOptions.AddTo(benchCommand);
        benchCommand.SetAction(parse => CliErrors.Guarded(error, () => benchOptions.Run(parse, args)));
        root.Subcommands.Add(benchCommand);

        root.Subcommands.Add(VerifyCommand(output, error));
        var devices = new Command("devices", "List the accelerators ILGPU sees and whether Soma can use them.");
        devices.SetAction(_ => CliErrors.Guarded(error, () =>
        {
            foreach (var device in SomaEngine.ListDevices())
            {
                output.WriteLine(device);
            }

            return CliErrors.Success;
        }));
        root.Subcommands.Add(devices);
        root.Subcommands.Add(RunCommand.Create(output, error));

        var bdn = new Command("bdn", "BenchmarkDotNet suites; every further argument is BenchmarkDotNet's (e.g. --filter '*DecodeVsHistory*').")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        bdn.SetAction(parse => Bdn.BdnEntry.Run(parse.UnmatchedTokens.ToArray()));
        root.Subcommands.Add(bdn);

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && !args.Contains("--help") && !args.Contains("-h") && !args.Contains("-?"))
        {
            foreach (var e in parsed.Errors)
            {
                error.WriteLine($"error: {e.Message}");
            }

            error.WriteLine("see soma --help");
            return CliErrors.UsageError;
        }

        return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
    }

    private static Command VerifyCommand(TextWriter output, TextWriter error)
    {
        var accelerator = new Option<string>("--accelerator") { Description = "auto, cpu, cuda or opencl.", DefaultValueFactory = _ => "auto" };
        var shape = new Option<string>("--shape") { Description = "small or qwen7b.", DefaultValueFactory = _ => "small" };
        var tokens = new Option<int>("--tokens") { Description = "Prefill tokens.", DefaultValueFactory = _ => 256 };
        var decode = new Option<int>("--decode") { Description = "Decode steps after the prefill.", DefaultValueFactory = _ => 64 };
        var seed = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 1 };
        var compareCpu = new Option<bool>("--compare-cpu") { Description = "Also run the CPU accelerator and compare outputs." };
        var model = new Option<DirectoryInfo?>("--model") { Description = "Verify a checkpoint's layer instead of a random one (with --layer, --input, optional --soma)." };
        var layer = new Option<int>("--layer") { Description = "Layer index with --model.", DefaultValueFactory = _ => 0 };
        var somaOptions = new Option<FileInfo?>("--soma") { Description = "Soma options JSON with --model." };
        var input = new Option<FileInfo?>("--input") { Description = "x [n, D] .npy with --model." };
        var command = new Command(
            "verify",
            "A layer's prefill (and, for a random layer, decode) on an accelerator against the double-precision reference. " + CliErrors.ExitCodes)
        {
            accelerator, shape, tokens, decode, seed, compareCpu, model, layer, somaOptions, input,
        };
        command.SetAction(parse => CliErrors.Guarded(error, () =>
        {
            if (parse.GetValue(model) is { } folder)
            {
                var x = parse.GetValue(input) ?? throw new ArgumentException("--input is required with --model.");
                return VerifyCheckpoint.Run(
                    folder.FullName, parse.GetValue(layer), parse.GetValue(somaOptions)?.FullName, x.FullName,
                    SomaEngineOptions.ParseKind(parse.GetValue(accelerator)!), output, error);
            }

            int t = parse.GetValue(tokens), d = parse.GetValue(decode);
            if (t < 1 || d < 1)
            {
                throw new ArgumentException("--tokens and --decode must be >= 1.");
            }

            return QuickRun.Run(
                SomaEngineOptions.ParseKind(parse.GetValue(accelerator)!), BenchShapes.ByName(parse.GetValue(shape)!), t, d,
                parse.GetValue(seed), parse.GetValue(compareCpu));
        }));
        return command;
    }

    /// <summary>The benchmark's options, defined once for the root and for `bench`.</summary>
    private sealed class BenchOptions
    {
        private readonly Option<string> accelerator = new("--accelerator") { Description = "auto, cpu, cuda, opencl or all.", DefaultValueFactory = _ => "auto" };
        private readonly Option<string?> shape = new("--shape") { Description = "small or qwen7b (default: small on the CPU accelerator, qwen7b on GPUs)." };
        private readonly Option<bool> full = new("--full") { Description = "More decode steps and longer prefills." };
        private readonly Option<string> json = new("--json") { Description = "Where the JSON results go.", DefaultValueFactory = _ => "soma-bench.json" };
        private readonly Option<string?> plot = new("--plot") { Description = "Where the decode-latency plot (PNG) goes." };
        private readonly Option<int> seed = new("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 1 };

        public static BenchOptions Create() => new();

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { accelerator, shape, full, json, plot, seed })
            {
                command.Options.Add(option);
            }
        }

        public int Run(ParseResult parse, string[] args) => BenchCommand.Run(
            parse.GetValue(accelerator)!, parse.GetValue(shape), parse.GetValue(full), parse.GetValue(json)!,
            parse.GetValue(plot), parse.GetValue(seed), "Soma.Bench " + string.Join(' ', args));
    }
}
