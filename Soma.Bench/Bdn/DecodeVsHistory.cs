using BenchmarkDotNet.Attributes;
using Soma;

namespace Soma.Bench.Bdn;

/// <summary>
/// One decode step at a given history: Soma (baseline), whose cost should not depend on the history, against the
/// standard-attention layer, whose step reads the whole KV cache. Host allocations per step via MemoryDiagnoser.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(StepsPerIteration)]
public class DecodeVsHistory : AcceleratorSuite
{
    /// <summary>Decode steps between two iteration setups (each iteration's invocation count).</summary>
    public const int StepsPerIteration = 16;

    /// <summary>KV-cache rows past <see cref="History"/>: room for the steps of one iteration, with margin.</summary>
    private const int Headroom = 4 * StepsPerIteration;

    private SomaLayer? soma;
    private SomaLayer? standard;
    private SomaSession? somaSession;
    private SomaSession? standardSession;
    private float[] x = Array.Empty<float>();
    private float[] y = Array.Empty<float>();
    private float[] cacheK = Array.Empty<float>();
    private float[] cacheV = Array.Empty<float>();
    private float[] field = Array.Empty<float>();

    /// <summary>Tokens already in the session.</summary>
    [Params(1024, 4096, 16384, 65536)]
    public int History { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var o = OpenEngine();
        var weights = SomaLayerWeights.CreateRandom(o, seed: 1, biases: true);
        soma = Engine.CreateLayer(o, weights);
        standard = Engine.CreateStandardAttentionLayer(o, weights, History + Headroom);
        somaSession = soma.CreateSession();
        standardSession = standard.CreateSession();
        x = QuickRun.RandomInputs(o.ModelDim, 1, seed: 2);
        y = new float[o.ModelDim];

        // Soma's ring is W rows whatever the position, so one fill serves every iteration.
        HistoryFill.Fill(somaSession, History, seed: 3);

        // The standard session gains a row per step: the iteration setup puts it back at History from these
        // host copies (generating 2 x 64K x Hkv x dh random floats per iteration would dominate the run on a GPU).
        int channels = o.KvHeads * o.HeadDim;
        cacheK = QuickRun.RandomInputs(channels, History + Headroom, seed: 4);
        cacheV = QuickRun.RandomInputs(channels, History + Headroom, seed: 5);
        field = QuickRun.RandomInputs(channels, 1, seed: 6);
    }

    /// <summary>Puts the standard session back at <see cref="History"/> so that its cache never overflows.</summary>
    [IterationSetup(Target = nameof(Standard))]
    public void Rewind() => standardSession!.UploadState(cacheK, cacheV, field, History);

    [Benchmark(Baseline = true)]
    public void Soma() => somaSession!.Decode(x, y);

    [Benchmark]
    public void Standard() => standardSession!.Decode(x, y);

    protected override void DisposeOwned()
    {
        somaSession?.Dispose();
        standardSession?.Dispose();
        soma?.Dispose();
        standard?.Dispose();
        (somaSession, standardSession, soma, standard) = (null, null, null, null);
    }
}
