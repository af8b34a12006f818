using Soma.Cli.Bench;

namespace Soma.Cli;

/// <summary>
/// What Soma.Bench adds to this command line: the BenchmarkDotNet suites (`bdn`) and the decode plot (`--plot`),
/// whose packages (BenchmarkDotNet, ScottPlot with native SkiaSharp/HarfBuzz) the installed `soma` tool leaves out.
/// Without them, `bdn` and `--plot` fail with one line that says to run them from Soma.Bench.
/// </summary>
/// <param name="RunBdn">Runs the BenchmarkDotNet suites with BenchmarkDotNet's own arguments; returns the exit code.</param>
/// <param name="SavePlot">Writes the decode-latency plot of the runs as a PNG to the path.</param>
internal sealed record CliExtensions(Func<string[], int> RunBdn, Action<IReadOnlyList<AcceleratorRun>, string> SavePlot)
{
    /// <summary>The error for <paramref name="what"/> (`bdn`, `--plot`) when the tool runs without these extensions.</summary>
    public static CliException Missing(string what) => new(
        $"{what} is not part of the installed soma tool (it would pull BenchmarkDotNet and ScottPlot into it); " +
        $"run it from a clone of the repository: dotnet run -c Release --project Soma.Bench -- {what} ...");
}
