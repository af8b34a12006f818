using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Soma.Bench.Bdn;

/// <summary>
/// BenchmarkDotNet settings for the Soma suites: in-process (kernels compile at run time and the suites use
/// internals; an out-of-process build of the project is slow on a small machine), a short job so one case takes
/// seconds, median and ratio columns, Markdown and JSON reports under BenchmarkDotNet.Artifacts/results.
/// </summary>
/// <remarks>
/// The short job is BenchmarkDotNet's custom default job, so command-line settings such as --iterationCount apply
/// on top of it. A named job (--job dry, short, medium, long) replaces it: pass <c>shortJob: false</c> then, since
/// BenchmarkDotNet ignores --job while a custom default job is configured. Whatever job runs, a mutator keeps it
/// in-process.
/// </remarks>
internal sealed class SomaBenchConfig : ManualConfig
{
    /// <summary>Warm-up iterations of the short job.</summary>
    public const int WarmupIterations = 2;

    /// <summary>Measured iterations of the short job.</summary>
    public const int MeasuredIterations = 6;

    public SomaBenchConfig(bool shortJob = true)
    {
        if (shortJob)
        {
            AddJob(Job.Default
                .WithWarmupCount(WarmupIterations)
                .WithIterationCount(MeasuredIterations)
                .WithId("soma-short")
                .AsDefault());
        }

        AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).AsMutator());

        // The default columns include Ratio/RatioSD wherever a class has a baseline; Median is not among them.
        AddColumnProvider(DefaultColumnProviders.Instance);
        AddColumn(StatisticColumn.Median);
        AddLogger(ConsoleLogger.Default);
        AddExporter(MarkdownExporter.GitHub);
        AddExporter(JsonExporter.Full);
    }

    /// <summary>True when BenchmarkDotNet's arguments name a job (--job X, -j X, --job=X).</summary>
    public static bool NamesJob(IEnumerable<string> args) => args.Any(a =>
        a.Equals("--job", StringComparison.OrdinalIgnoreCase)
        || a.Equals("-j", StringComparison.Ordinal)
        || a.StartsWith("--job=", StringComparison.OrdinalIgnoreCase));
}
