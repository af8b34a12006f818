using BenchmarkDotNet.Attributes;
using Soma;

namespace Soma.Bench.Bdn;

/// <summary>
/// Prefill of a prompt of a given length into an empty session: Soma's parallel prefill (baseline) against the
/// standard layer's causal prefill (KV cache of exactly that length). One prefill per iteration, sessions reset
/// before each.
/// </summary>
[InvocationCount(1)]
public class PrefillVsLength : SomaVsStandardSuite
{
    /// <summary>Prompt tokens.</summary>
    [Params(256, 1024, 4096)]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup() => OpenPair(Length, Length);

    [IterationSetup]
    public void Reset()
    {
        SomaSession.Reset();
        StandardSession.Reset();
    }

    [Benchmark(Baseline = true)]
    public void SomaParallel() => SomaSession.Prefill(X, Y);

    [Benchmark]
    public void Standard() => StandardSession.Prefill(X, Y);
}
