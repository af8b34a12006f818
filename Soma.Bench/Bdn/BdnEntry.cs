using BenchmarkDotNet.Running;

namespace Soma.Bench.Bdn;

/// <summary>Runs the BenchmarkDotNet suites (`Soma.Bench bdn --filter ...`); arguments are BenchmarkDotNet's own.</summary>
internal static class BdnEntry
{
    public static int Run(string[] args)
    {
        var summaries = BenchmarkSwitcher
            .FromTypes(new[] { typeof(DecodeVsHistory), typeof(PrefillVsLength), typeof(KernelTimings) })
            .Run(args, new SomaBenchConfig());
        bool failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
        return failed ? 1 : 0;
    }
}
