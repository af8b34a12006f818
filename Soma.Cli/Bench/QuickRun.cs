using System.Diagnostics;
using Soma;
using Soma.Reference;

namespace Soma.Cli.Bench;

/// <summary>
/// The main job: list accelerators, run prefill and decode of a random layer on the chosen one, check both against
/// the double-precision reference, and print errors and timings.
/// </summary>
internal static class QuickRun
{
    public const double MaxRelativeError = 1e-4;
    public const double MinCosine = 0.999999;

    /// <summary>The relative error and cosine a layer of <paramref name="o"/>'s ring type is held to (fp32: the constants above).</summary>
    public static (double Relative, double Cosine) BoundFor(SomaLayerOptions o) => Soma.Internal.StorageTypes.OutputBound(o.RingStorage);

    public static int Run(SomaAcceleratorKind kind, SomaLayerOptions shape, int prefillTokens, int decodeSteps, int seed, bool compareCpu)
    {
        Console.WriteLine("Devices:");
        foreach (var device in SomaEngine.ListDevices())
        {
            Console.WriteLine($"  {device}");
        }

        var weights = SomaLayerWeights.CreateRandom(shape, seed, biases: true);
        var x = RandomInputs(shape.ModelDim, prefillTokens + decodeSteps, seed + 1);
        var run = Execute(new SomaEngineOptions(kind), shape, weights, x, prefillTokens, decodeSteps, print: true);
        var (yPrefill, yDecode, prefillMs, stepMs, stateBytes, position) = run;
        int d = shape.ModelDim;

        Console.WriteLine("Reference (double precision, token by token)...");
        var reference = new SomaReference(shape, weights);
        var state = reference.CreateState();
        var expected = reference.Run(state, x);
        var prefill = Comparison.Of(yPrefill, expected.AsSpan(0, prefillTokens * d));
        var decode = Comparison.Of(yDecode, expected.AsSpan(prefillTokens * d));

        Array.Sort(stepMs);
        Console.WriteLine($"Prefill: {prefillMs:F1} ms for {prefillTokens} tokens ({prefillTokens / (prefillMs / 1000):F0} tok/s, after a warm-up call)");
        Console.WriteLine($"Decode:  median {stepMs[decodeSteps / 2]:F3} ms/step, min {stepMs[0]:F3}, max {stepMs[^1]:F3} over {decodeSteps} steps");
        Console.WriteLine($"State:   {stateBytes} bytes per session at position {position}");
        Console.WriteLine($"Prefill vs reference: {prefill}");
        Console.WriteLine($"Decode  vs reference: {decode}");
        var (maxRelative, minCosine) = BoundFor(shape);
        bool Pass(Comparison c) => c.RelativeMaxError <= maxRelative && c.Cosine >= minCosine;
        bool ok = Pass(prefill) && Pass(decode);
        if (compareCpu)
        {
            Console.WriteLine("Same layer and inputs on the CPU accelerator...");
            var cpu = Execute(new SomaEngineOptions(SomaAcceleratorKind.Cpu), shape, weights, x, prefillTokens, decodeSteps, print: false);
            var cpuAll = cpu.Prefill.Concat(cpu.Decode).Select(v => (double)v).ToArray();
            var vsCpu = Comparison.Of(yPrefill.Concat(yDecode).ToArray(), cpuAll);
            Console.WriteLine($"This accelerator vs CPU accelerator: {vsCpu}");
            ok &= vsCpu.RelativeMaxError <= maxRelative;
        }

        Console.WriteLine(ok
            ? $"PASS: relative max error <= {maxRelative:E0} and cosine >= {minCosine} for prefill and decode"
            : $"FAIL: relative max error must be <= {maxRelative:E0} and cosine >= {minCosine}");
        return ok ? 0 : 1;
    }

    private static (float[] Prefill, float[] Decode, double PrefillMs, double[] StepMs, long StateBytes, long Position) Execute(
        SomaEngineOptions options, SomaLayerOptions shape, SomaLayerWeights weights, float[] x, int prefillTokens, int decodeSteps, bool print)
    {
        using var engine = CliEngine.Create(options.Accelerator);
        if (print)
        {
            Console.WriteLine($"Running on {engine.Device}");
            Console.WriteLine($"Layer: {BenchShapes.Describe(shape)}, prefill {prefillTokens} tokens, then {decodeSteps} decode steps");
        }

        using var layer = engine.CreateLayer(shape, weights);
        int d = shape.ModelDim;
        using (var warmUp = layer.CreateSession())
        {
            // Kernels compile on first launch (JIT to PTX or IL); keep that out of the timings.
            warmUp.Prefill(x.AsSpan(0, Math.Min(prefillTokens, 8) * d));
            warmUp.Decode(x.AsSpan(0, d));
        }

        using var session = layer.CreateSession();
        var sw = Stopwatch.StartNew();
        var yPrefill = session.Prefill(x.AsSpan(0, prefillTokens * d));
        double prefillMs = sw.Elapsed.TotalMilliseconds;
        var yDecode = new float[decodeSteps * d];
        var stepMs = new double[decodeSteps];
        for (int i = 0; i < decodeSteps; i++)
        {
            sw.Restart();
            session.Decode(x.AsSpan((prefillTokens + i) * d, d)).CopyTo(yDecode, i * d);
            stepMs[i] = sw.Elapsed.TotalMilliseconds;
        }

        return (yPrefill, yDecode, prefillMs, stepMs, session.StateBytes, session.Position);
    }

    public static float[] RandomInputs(int width, int tokens, int seed)
    {
        var rng = new Random(seed);
        var x = new float[width * tokens];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)(rng.NextDouble() * 2 - 1);
        }

        return x;
    }

}
