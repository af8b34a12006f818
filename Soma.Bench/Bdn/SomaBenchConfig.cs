using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Soma.Bench.Bdn;

/// <summary>
/// BenchmarkDotNet settings for the Soma suites: in-process (kernels compile at run time and the suites use
/// internals), a short job so one case takes seconds, median and ratio columns, Markdown and JSON reports.
/// </summary>
internal sealed class SomaBenchConfig : ManualConfig
{
    public SomaBenchConfig()
    {
        AddJob(Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithWarmupCount(2)
            .WithIterationCount(6)
            .WithId("soma-short"));
        AddColumnProvider(DefaultColumnProviders.Instance);
        AddColumn(StatisticColumn.Median);
        AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default);
        AddExporter(MarkdownExporter.GitHub);
        AddExporter(JsonExporter.Full);
        WithOptions(ConfigOptions.DisableOptimizationsValidator);
    }
}
