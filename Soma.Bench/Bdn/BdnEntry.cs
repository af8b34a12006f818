using BenchmarkDotNet.Running;
using Soma;

namespace Soma.Bench.Bdn;

/// <summary>
/// Runs the BenchmarkDotNet suites (`Soma.Bench bdn --filter ...`); the arguments are BenchmarkDotNet's own.
/// Returns 0 when every selected case ran, 1 when validation failed or a case did not run.
/// </summary>
internal static class BdnEntry
{
    /// <summary>The suites, in the order BenchmarkDotNet lists them.</summary>
    public static readonly Type[] Suites = { typeof(DecodeVsHistory), typeof(PrefillVsLength), typeof(KernelTimings) };

    public static int Run(string[] args)
    {
        if (!ReportCases(Console.Out))
        {
            return 1;
        }

        var summaries = BenchmarkSwitcher
            .FromTypes(Suites)
            .Run(args, new SomaBenchConfig(shortJob: !SomaBenchConfig.NamesJob(args)))
            .ToArray();
        bool failed = summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success));
        return failed ? 1 : 0;
    }

    /// <summary>
    /// BenchmarkDotNet cannot skip one case, so the accelerator cases come only from accelerators present
    /// (<see cref="BenchCase.Present"/>); this says which were left out and why. False when none is left.
    /// </summary>
    private static bool ReportCases(TextWriter output)
    {
        var cases = BenchCase.Present().Select(c => c.ToString()).ToArray();
        if (!cases.Any(c => c.StartsWith("cuda", StringComparison.Ordinal)))
        {
            string why = Environment.GetEnvironmentVariable(BenchCase.Variable) is { } limit
                ? $"{BenchCase.Variable}={limit}"
                : "no usable CUDA device (see `soma devices`)";
            output.WriteLine($"// Soma bdn: cuda/qwen7b cases skipped: {why}.");
        }

        if (cases.Length == 0)
        {
            output.WriteLine($"// Soma bdn: no accelerator case left to run ({BenchCase.Variable} names none that is present).");
            return false;
        }

        output.WriteLine($"// Soma bdn: cases {string.Join(", ", cases)}.");
        return true;
    }
}
