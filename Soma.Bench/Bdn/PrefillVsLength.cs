using BenchmarkDotNet.Attributes;
using Soma;

namespace Soma.Bench.Bdn;

/// <summary>Prefill of a prompt of a given length: Soma's parallel prefill (baseline) against standard causal prefill.</summary>
[InvocationCount(1)]
public class PrefillVsLength
{
    private SomaEngine? engine;
    private SomaSession? somaSession;
    private SomaSession? standardSession;
    private float[] x = Array.Empty<float>();
    private float[] y = Array.Empty<float>();

    /// <summary>Accelerator and shape.</summary>
    [ParamsSource(nameof(Cases))]
    public BenchCase Case { get; set; } = null!;

    /// <summary>Prompt tokens.</summary>
    [Params(256, 1024, 4096)]
    public int Length { get; set; }

    /// <summary>The accelerators present.</summary>
    public static IEnumerable<BenchCase> Cases() => BenchCase.Present();

    [GlobalSetup]
    public void Setup()
    {
        var o = Case.Options;
        engine = Case.CreateEngine();
        var weights = SomaLayerWeights.CreateRandom(o, seed: 1, biases: true);
        somaSession = engine.CreateLayer(o, weights).CreateSession();
        standardSession = engine.CreateStandardAttentionLayer(o, weights, Length).CreateSession();
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

    // Disposing the engine disposes its layers and their sessions.
    [GlobalCleanup]
    public void Cleanup() => engine?.Dispose();
}
