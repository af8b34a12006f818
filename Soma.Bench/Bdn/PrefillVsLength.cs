using BenchmarkDotNet.Attributes;
using Soma;

namespace Soma.Bench.Bdn;

/// <summary>
/// Prefill of a prompt of a given length into an empty session: Soma's parallel prefill (baseline) against the
/// standard layer's causal prefill (KV cache of exactly that length). One prefill per iteration, sessions reset
/// before each.
/// </summary>
[InvocationCount(1)]
public class PrefillVsLength : AcceleratorSuite
{
    private SomaLayer? soma;
    private SomaLayer? standard;
    private SomaSession? somaSession;
    private SomaSession? standardSession;
    private float[] x = Array.Empty<float>();
    private float[] y = Array.Empty<float>();

    /// <summary>Prompt tokens.</summary>
    [Params(256, 1024, 4096)]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var o = OpenEngine();
        var weights = SomaLayerWeights.CreateRandom(o, seed: 1, biases: true);
        soma = Engine.CreateLayer(o, weights);
        standard = Engine.CreateStandardAttentionLayer(o, weights, Length);
        somaSession = soma.CreateSession();
        standardSession = standard.CreateSession();
        x = QuickRun.RandomInputs(o.ModelDim, Length, seed: 2);
        y = new float[x.Length];
    }

    [IterationSetup]
    public void Reset()
    {
        somaSession!.Reset();
        standardSession!.Reset();
    }

    [Benchmark(Baseline = true)]
    public void SomaParallel() => somaSession!.Prefill(x, y);

    [Benchmark]
    public void Standard() => standardSession!.Prefill(x, y);

    protected override void DisposeOwned()
    {
        somaSession?.Dispose();
        standardSession?.Dispose();
        soma?.Dispose();
        standard?.Dispose();
        (somaSession, standardSession, soma, standard) = (null, null, null, null);
    }
}
