using System.CommandLine;
using Soma;
using Soma.Cli.Bench;

namespace Soma.Cli;

/// <summary>
/// The `soma` command line (System.CommandLine): bench (the default), verify, devices, run, ptx, predict and bdn.
/// `soma` with no command runs the quick benchmark, so the benchmark's own options work at the top level.
/// Every failure is one `error:` line on stderr and exit code 2 (1 only for a failed check): see <see cref="CliErrors"/>.
/// </summary>
internal static class SomaCli
{
    /// <summary>
    /// Runs the command line <paramref name="args"/>; <paramref name="extensions"/> (Soma.Bench) adds `bdn` and `--plot`;
    /// `chat` reads its turns from <paramref name="input"/> (default: the console).
    /// </summary>
    public static int Invoke(string[] args, TextWriter output, TextWriter error, CliExtensions? extensions = null, TextReader? input = null)
    {
        var verbose = new Option<bool>("--verbose") { Description = CliErrors.VerboseHelp, Recursive = true };
        var root = new RootCommand("Soma: a constant-memory attention layer on ILGPU. With no command, the quick benchmark. " + CliErrors.ExitCodes)
        {
            verbose,
        };
        var bench = BenchOptions.Create(extensions);
        bench.AddTo(root);
        root.SetAction(parse => bench.Run(parse, args));

        var benchCommand = new Command("bench", "The benchmark: verify, fidelity, decode vs history, prefill, batches, memory, targets; tables, and JSON with --json. " + CliErrors.ExitCodes);
        var benchOptions = BenchOptions.Create(extensions);
        benchOptions.AddTo(benchCommand);
        benchCommand.SetAction(parse => benchOptions.Run(parse, args));
        root.Subcommands.Add(benchCommand);

        root.Subcommands.Add(VerifyCommand(output, error));
        var devices = new Command("devices", "List the accelerators ILGPU sees and whether Soma can use them.");
        devices.SetAction(_ =>
        {
            foreach (var device in SomaEngine.ListDevices())
            {
                output.WriteLine(device);
            }

            return CliErrors.Success;
        });
        root.Subcommands.Add(devices);
        root.Subcommands.Add(RunCommand.Create(output, error));
        root.Subcommands.Add(ForwardCommand.Create(output));
        root.Subcommands.Add(GenerateCommand.Create(output));
        root.Subcommands.Add(ChatCommand.Create(output, input ?? Console.In));
        root.Subcommands.Add(PtxCommand.Create(output));
        root.Subcommands.Add(PredictCommand.Create(output));

        var bdn = new Command(
            "bdn",
            "BenchmarkDotNet suites; every further argument is BenchmarkDotNet's (e.g. --filter '*DecodeVsHistory*'). Only from Soma.Bench, not in the installed tool.")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        bdn.SetAction(parse => (extensions ?? throw CliExtensions.Missing("bdn")).RunBdn(parse.UnmatchedTokens.ToArray()));
        root.Subcommands.Add(bdn);

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0 && !args.Contains("--help") && !args.Contains("-h") && !args.Contains("-?"))
        {
            // One line however many mistakes: "error: A; B (see soma --help)".
            var messages = parsed.Errors.Select(e => CliErrors.ParseError(e.Message).TrimEnd('.')).Distinct();
            error.WriteLine($"error: {string.Join("; ", messages)} (see soma --help)");
            return CliErrors.UsageError;
        }

        bool stackTraces = CliErrors.DebugRequested() || parsed.GetValue(verbose);
        return CliErrors.Guarded(
            error, () => parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false }), stackTraces);
    }

    private static Command VerifyCommand(TextWriter output, TextWriter error)
    {
        var accelerator = new Option<string>("--accelerator") { Description = "auto, cpu, cuda or opencl.", DefaultValueFactory = _ => "auto" };
        var shape = new Option<string>("--shape") { Description = "small or qwen7b.", DefaultValueFactory = _ => "small" };
        var tokens = new Option<int>("--tokens") { Description = "Prefill tokens.", DefaultValueFactory = _ => 256 };
        var decode = new Option<int>("--decode") { Description = "Decode steps after the prefill.", DefaultValueFactory = _ => 64 };
        var seed = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 1 };
        var compareCpu = new Option<bool>("--compare-cpu") { Description = "Also run the CPU accelerator and compare outputs." };
        var model = new Option<string?>("--model") { Description = "Verify a checkpoint's layer instead of a random one (with --layer, --input, optional --soma)." };
        var layer = new Option<int>("--layer") { Description = "Layer index with --model.", DefaultValueFactory = _ => 0 };
        var somaOptions = new Option<string?>("--soma") { Description = "Soma options JSON with --model." };
        var input = new Option<string?>("--input") { Description = "With --model: " + CliInput.Help };
        var storage = new StorageTypeOptions();
        var command = new Command(
            "verify",
            "A layer's prefill (and, for a random layer, decode) on an accelerator against the double-precision reference. " + CliErrors.ExitCodes)
        {
            accelerator, shape, tokens, decode, seed, compareCpu, model, layer, somaOptions, input,
        };
        storage.AddTo(command);
        command.SetAction(parse =>
        {
            if (parse.GetValue(model) is { } folder)
            {
                var x = parse.GetValue(input) ?? throw new ArgumentException("--input is required with --model.");
                return VerifyCheckpoint.Run(
                    folder, parse.GetValue(layer), parse.GetValue(somaOptions), x,
                    SomaEngineOptions.ParseKind(parse.GetValue(accelerator)!), output, error, o => storage.Apply(parse, o));
            }

            int t = parse.GetValue(tokens), d = parse.GetValue(decode);
            if (t < 1 || d < 1)
            {
                throw new ArgumentException("--tokens and --decode must be >= 1.");
            }

            return QuickRun.Run(
                SomaEngineOptions.ParseKind(parse.GetValue(accelerator)!), storage.Apply(parse, BenchShapes.ByName(parse.GetValue(shape)!)), t, d,
                parse.GetValue(seed), parse.GetValue(compareCpu));
        });
        return command;
    }

    /// <summary>The benchmark's options, defined once for the root and for `bench`.</summary>
    private sealed class BenchOptions(CliExtensions? extensions)
    {
        private readonly Option<string> accelerator = new("--accelerator") { Description = "auto, cpu, cuda, opencl or all.", DefaultValueFactory = _ => "auto" };
        private readonly Option<string?> shape = new("--shape") { Description = "small or qwen7b (default: small on the CPU accelerator, qwen7b on GPUs)." };
        private readonly Option<bool> full = new("--full") { Description = "More decode steps and longer prefills." };
        private readonly Option<string?> json = new("--json") { Description = "Also write the results as JSON to this file (none without it)." };
        private readonly Option<string?> plot = new("--plot") { Description = "Where the decode-latency plot (PNG) goes. Only from Soma.Bench, not in the installed tool." };
        private readonly Option<int> seed = new("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 1 };
        private readonly StorageTypeOptions storage = new();

        public static BenchOptions Create(CliExtensions? extensions) => new(extensions);

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { accelerator, shape, full, json, plot, seed })
            {
                command.Options.Add(option);
            }

            storage.AddTo(command);
        }

        public int Run(ParseResult parse, string[] args)
        {
            var types = storage.Resolve(parse);
            string? plotPath = parse.GetValue(plot);
            if (plotPath is not null && extensions is null)
            {
                throw CliExtensions.Missing("--plot");
            }

            return BenchCommand.Run(
                parse.GetValue(accelerator)!, parse.GetValue(shape), parse.GetValue(full), parse.GetValue(json),
                plotPath is null ? null : (plotPath, extensions!.SavePlot), parse.GetValue(seed), "Soma.Bench " + string.Join(' ', args),
                types);
        }
    }
}
