using BenchmarkDotNet.Attributes;
using Soma;

namespace Soma.Bench.Bdn;

/// <summary>One decode step at a given history: Soma (baseline) against the standard-attention KV cache.</summary>
[MemoryDiagnoser]
[InvocationCount(16)]
public class DecodeVsHistory : AcceleratorSuite
{
    private SomaLayer? soma;
    private SomaLayer? standard;
    private SomaSession? somaSession;
    private SomaSession? standardSession;
    private float[] x = Array.Empty<float>();
    private float[] y = Array.Empty<float>();

    /// <summary>Tokens already in the session.</summary>
    [Params(1024, 4096, 16384, 65536)]
    public int History { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var o = OpenEngine();
        var weights = SomaLayerWeights.CreateRandom(o, seed: 1, biases: true);
        soma = Engine.CreateLayer(o, weights);

        // Room for every invocation between two refills (IterationSetup puts the session back at History).
        standard = Engine.CreateStandardAttentionLayer(o, weights, History + 64);
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
}
