using System.Globalization;
using Soma;
using Soma.Bench;
using Soma.Bench.Suite;

const string Usage = """
usage:
  Soma.Bench [bench] [--accelerator auto|cpu|cuda|opencl|all] [--shape small|qwen7b] [--full]
                     [--json PATH] [--plot PATH] [--seed N]
      The benchmark: verify, fidelity, decode vs history, prefill, memory and targets on each accelerator;
      tables on the console and the same numbers in JSON (default soma-bench.json). Shape defaults to
      small on the CPU accelerator and qwen7b on GPUs.
  Soma.Bench verify [--accelerator ...] [--shape small|qwen7b] [--tokens N] [--decode N] [--seed N] [--compare-cpu]
      Prefill + decode of a random layer against the double-precision reference (and the CPU accelerator).
  Soma.Bench devices
      Lists the accelerators ILGPU sees.
  Soma.Bench bdn [BenchmarkDotNet arguments, e.g. --filter *DecodeVsHistory*]
      The BenchmarkDotNet suites.
exit codes: 0 success, 1 a check failed, 2 bad arguments or no such accelerator.
""";

try
{
    string command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "bench";
    var rest = args.Length > 0 && !args[0].StartsWith('-') ? args[1..] : args;
    switch (command)
    {
        case "devices":
            foreach (var device in SomaEngine.ListDevices())
            {
                Console.WriteLine(device);
            }

            return 0;
        case "bdn":
            return Soma.Bench.Bdn.BdnEntry.Run(rest);
        case "bench" or "verify":
            break;
        default:
            throw new ArgumentException($"Unknown command '{command}'.");
    }

    var flags = Flags.Parse(rest, boolean: new[] { "--full", "--compare-cpu", "--help", "-h" });
    if (flags.Has("--help") || flags.Has("-h"))
    {
        Console.WriteLine(Usage);
        return 0;
    }

    int seed = flags.Int("--seed", 1);
    if (command == "verify")
    {
        var kind = SomaEngineOptions.ParseKind(flags.Get("--accelerator") ?? "auto");
        var shape = BenchShapes.ByName(flags.Get("--shape") ?? "small");
        flags.ThrowOnUnknown("--accelerator", "--shape", "--tokens", "--decode", "--seed", "--compare-cpu");
        return QuickRun.Run(kind, shape, flags.Int("--tokens", 256), flags.Int("--decode", 64), seed, flags.Has("--compare-cpu"));
    }

    flags.ThrowOnUnknown("--accelerator", "--shape", "--full", "--json", "--plot", "--seed");
    return BenchCommand.Run(
        flags.Get("--accelerator") ?? "auto", flags.Get("--shape"), flags.Has("--full"), flags.Get("--json") ?? "soma-bench.json",
        flags.Get("--plot"), seed, "Soma.Bench " + string.Join(' ', args));
}
catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    Console.Error.WriteLine("see Soma.Bench --help");
    return 2;
}

/// <summary>Minimal --flag value parsing for the benchmark's few options.</summary>
internal sealed class Flags
{
    private readonly Dictionary<string, string?> values = new();

    public static Flags Parse(string[] args, string[] boolean)
    {
        var flags = new Flags();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith('-'))
            {
                throw new ArgumentException($"Unexpected argument '{args[i]}'.");
            }

            if (boolean.Contains(args[i]))
            {
                flags.values[args[i]] = null;
            }
            else
            {
                flags.values[args[i]] = i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            }
        }

        return flags;
    }

    public bool Has(string name) => values.ContainsKey(name);

    public string? Get(string name) => values.GetValueOrDefault(name);

    public int Int(string name, int fallback) =>
        values.TryGetValue(name, out var v) && v is not null
            ? int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : throw new ArgumentException($"{name} must be a positive integer, not '{v}'.")
            : fallback;

    public void ThrowOnUnknown(params string[] known)
    {
        foreach (var name in values.Keys)
        {
            if (!known.Contains(name) && name is not "--help" and not "-h")
            {
                throw new ArgumentException($"Unknown option '{name}' here; expected one of {string.Join(", ", known)}.");
            }
        }
    }
}
