using BenchmarkDotNet.Attributes;
using Soma;

namespace Soma.Bench.Bdn;

/// <summary>One decode step at a given history: Soma (baseline) against the standard-attention KV cache.</summary>
[MemoryDiagnoser]
[InvocationCount(16)]
public class DecodeVsHistory
{
    private SomaEngine? engine;
    private SomaLayer? soma;
    private SomaLayer? standard;
    private SomaSession? somaSession;
    private SomaSession? standardSession;
    private float[] x = Array.Empty<float>();
    private float[] y = Array.Empty<float>();

    /// <summary>Accelerator and shape.</summary>
    [ParamsSource(nameof(Cases))]
    public BenchCase Case { get; set; } = null!;

    /// <summary>Tokens already in the session.</summary>
    [Params(1024, 4096, 16384, 65536)]
    public int History { get; set; }

    /// <summary>The accelerators present.</summary>
    public static IEnumerable<BenchCase> Cases() => BenchCase.Present();

    [GlobalSetup]
    public void Setup()
    {
        var o = Case.Options;
        engine = Case.CreateEngine();
        var weights = SomaLayerWeights.CreateRandom(o, seed: 1, biases: true);
        soma = engine.CreateLayer(o, weights);

        // Room for every invocation between two refills (IterationSetup puts the session back at History).
        standard = engine.CreateStandardAttentionLayer(o, weights, History + 64);
        somaSession = soma.CreateSession();
        standardSession = standard.CreateSession();
        x = QuickRun.RandomInputs(o.ModelDim, 1, seed: 2);
        y = new float[o.ModelDim];
        HistoryFill.Fill(somaSession, History, seed: 3);
    }

    [IterationSetup]
    public void Refill() => HistoryFill.Fill(standardSession!, History, seed: 4);

    [Benchmark(Baseline = true)]
    public void Soma() => somaSession!.Decode(x, y);

    [Benchmark]
    public void Standard() => standardSession!.Decode(x, y);

    [GlobalCleanup]
    public void Cleanup() => engine?.Dispose();
}
