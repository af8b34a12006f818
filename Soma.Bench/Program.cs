using Soma;
using Soma.Bench;

// soma-bench [--accelerator auto|cpu|cuda|opencl] [--shape small|qwen7b] [--tokens N] [--decode N] [--seed N] [--compare-cpu]
var kind = SomaAcceleratorKind.Auto;
string? shapeName = null;
int? tokens = null;
int? decode = null;
int seed = 1;
bool compareCpu = false;
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
        switch (args[i])
        {
            case "--accelerator": kind = SomaEngineOptions.ParseKind(Next()); break;
            case "--shape": shapeName = Next(); break;
            case "--tokens": tokens = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
            case "--decode": decode = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
            case "--seed": seed = int.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture); break;
            case "--compare-cpu": compareCpu = true; break;
            case "-h" or "--help":
                Console.WriteLine("usage: Soma.Bench [--accelerator auto|cpu|cuda|opencl] [--shape small|qwen7b] [--tokens N] [--decode N] [--seed N] [--compare-cpu]");
                return 0;
            default: throw new ArgumentException($"Unknown argument '{args[i]}'; see --help.");
        }
    }

    var shape = BenchShapes.ByName(shapeName ?? "small");
    return QuickRun.Run(kind, shape, tokens ?? 256, decode ?? 64, seed, compareCpu);
}
catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 2;
}
