using BenchmarkDotNet.Attributes;
using Soma;

namespace Soma.Bench.Bdn;

/// <summary>
/// One decode step at a given history: Soma (baseline), whose cost should not depend on the history, against the
/// standard-attention layer, whose step reads the whole KV cache. Host allocations per step via MemoryDiagnoser.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(StepsPerIteration)]
public class DecodeVsHistory : SomaVsStandardSuite
{
    /// <summary>Decode steps between two iteration setups (each iteration's invocation count).</summary>
    public const int StepsPerIteration = 16;

    /// <summary>KV-cache rows past <see cref="History"/>: room for the steps of one iteration, with margin.</summary>
    private const int Headroom = 4 * StepsPerIteration;

    private float[] cacheK = Array.Empty<float>();
    private float[] cacheV = Array.Empty<float>();
    private double[] field = Array.Empty<double>();

    /// <summary>Tokens already in the session.</summary>
    [Params(1024, 4096, 16384, 65536)]
    public int History { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var o = OpenPair(History + Headroom, rows: 1);

        // Soma's ring is W rows whatever the position, so one fill serves every iteration.
        HistoryFill.Fill(SomaSession, History, seed: 3);

        // The standard session gains a row per step: the iteration setup puts it back at History from these
        // host copies (generating 2 x 64K x Hkv x dh random floats per iteration would dominate the run on a GPU).
        int channels = o.KvHeads * o.HeadDim;
        cacheK = QuickRun.RandomInputs(channels, History + Headroom, seed: 4);
        cacheV = QuickRun.RandomInputs(channels, History + Headroom, seed: 5);
        field = Array.ConvertAll(QuickRun.RandomInputs(channels, 1, seed: 6), f => (double)f);
    }

    /// <summary>Puts the standard session back at <see cref="History"/> so that its cache never overflows.</summary>
    [IterationSetup(Target = nameof(Standard))]
    public void Rewind() => StandardSession.UploadState(cacheK, cacheV, field, History);

    [Benchmark(Baseline = true)]
    public void Soma() => SomaSession.Decode(X, Y);

    [Benchmark]
    public void Standard() => StandardSession.Decode(X, Y);
}
