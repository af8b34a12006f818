using System.Diagnostics;
using Soma;

namespace Soma.Cli.Bench;

/// <summary>
/// The whole-model section of the benchmark: a random decoder (<see cref="BenchPlan.Decoder"/>) with Soma layers
/// against the same weights with standard attention in every layer: prefill and greedy-decode tokens/s, and memory per
/// conversation at 4K, 64K and 1M tokens for that shape and for Qwen2.5-0.5B's.
/// </summary>
internal sealed class ModelBench(SomaEngine engine, BenchPlan plan, int seed)
{
    /// <summary>The units <see cref="Run"/> reports: two models, then the memory table.</summary>
    public const int Units = 3;

    /// <summary>The histories of the memory table.</summary>
    public static IReadOnlyList<long> MemoryHistories { get; } = [4096, 65536, 1 << 20];

    /// <summary>Runs the section (two model builds, prefill and decode each, then the memory table).</summary>
    public ModelBenchRecord Run(BenchPhase task)
    {
        var sw = Stopwatch.StartNew();
        var shape = Fits(plan.Decoder) ? plan.Decoder : BenchDecoder.Tiny;
        int n = plan.DecoderPrefillTokens;
        var rng = new Random(seed);
        var prompt = Enumerable.Range(0, n).Select(_ => rng.Next(shape.Vocab)).ToArray();
        int steps = plan.DecoderDecodeWarmup + plan.DecoderDecodeSteps;
        int kvCapacity = checked((int)Math.Max(n, plan.DecoderHistories.DefaultIfEmpty(0).Max()) + steps);
        var soma = Time(shape.Random(seed, standard: false), prompt, kvCapacity);
        task.Increment(1);
        var standard = Time(shape.Random(seed, standard: true), prompt, kvCapacity);
        task.Increment(1);

        var shapes = new[] { shape, BenchDecoder.Qwen05B }.Distinct().ToList();
        var memory = shapes.SelectMany(Memory).ToList();
        task.Increment(1);
        var decode = soma.StepMs.Keys.Select(h => new ModelDecodeRecord(
            shape.Name, h, plan.DecoderDecodeSteps, soma.StepMs[h], standard.StepMs[h], 1000 / soma.StepMs[h], 1000 / standard.StepMs[h],
            standard.StepMs[h] / soma.StepMs[h])).ToList();
        return new ModelBenchRecord(
            shapes.Select(Record).ToList(),
            [new ModelPrefillRecord(shape.Name, n, n / soma.PrefillSeconds, n / standard.PrefillSeconds, standard.PrefillSeconds / soma.PrefillSeconds, plan.DecoderRepeats)],
            decode,
            memory,
            sw.Elapsed.TotalSeconds);
    }

    /// <summary>Memory per conversation of <paramref name="shape"/> at every history of <see cref="MemoryHistories"/>.</summary>
    public List<ModelMemoryRecord> Memory(BenchDecoder shape)
    {
        // One layer of each kind carries the state size the runtime reports (no session is opened, so nothing of the
        // state is allocated); every layer of the shape has the same.
        var options = shape.LayerOptions;
        var weights = SomaLayerWeights.CreateRandom(options, seed);
        long somaBytes;
        using (var layer = engine.CreateLayer(options, weights))
        {
            somaBytes = shape.Layers * layer.StateBytes;
        }

        return MemoryHistories.Select(history =>
        {
            using var standard = engine.CreateStandardAttentionLayer(options, weights, checked((int)history));
            long standardBytes = shape.Layers * standard.StateBytes;
            return new ModelMemoryRecord(shape.Name, history, somaBytes, standardBytes, (double)standardBytes / somaBytes);
        }).ToList();
    }

    private static ModelShapeRecord Record(BenchDecoder s) =>
        new(s.Name, s.D, s.Inter, s.Layers, s.Heads, s.KvHeads, s.HeadDim, s.Vocab, s.Window, s.Parameters, s.Parameters * sizeof(float), "fp32");

    /// <summary>Whether the device holds three times the fp32 weights (the models are built one after the other; the rest is room for state and scratch).</summary>
    private bool Fits(BenchDecoder shape) =>
        engine.Device.Kind == SomaAcceleratorKind.Cpu || 3 * shape.Parameters * sizeof(float) <= engine.Device.MemoryBytes;

    /// <summary>
    /// Fastest of the repeats of one prefill of <paramref name="prompt"/>; then the median greedy decode step right after
    /// it (history n) and at every history of the plan, where every layer's state is first put at that history with
    /// random contents (<see cref="HistoryFill"/>: a step's cost depends on the state's shape, not how it was filled).
    /// </summary>
    private (double PrefillSeconds, Dictionary<long, double> StepMs) Time(CausalLMWeights weights, int[] prompt, int kvCapacity)
    {
        using var model = engine.CreateCausalLM(weights, kvCapacity);
        using var session = model.CreateSession();

        // Kernels compile on first launch; keep that out of the timings.
        session.PrefillGreedy(prompt.AsSpan(0, Math.Min(8, prompt.Length)));
        session.DecodeGreedy(prompt[0]);
        int next = 0;
        double best = double.MaxValue;
        for (int r = 0; r < plan.DecoderRepeats; r++)
        {
            session.Reset();
            GC.Collect();
            best = Math.Min(best, Measure.Seconds(() => next = session.PrefillGreedy(prompt)));
        }

        var stepMs = new Dictionary<long, double> { [prompt.Length] = DecodeMs() };
        foreach (long history in plan.DecoderHistories)
        {
            HistoryFill.Fill(session.Inner, history, seed);
            stepMs[history] = DecodeMs();
        }

        return (best, stepMs);

        double DecodeMs()
        {
            GC.Collect();
            var times = new List<double>();
            for (int i = 0; i < plan.DecoderDecodeWarmup + plan.DecoderDecodeSteps; i++)
            {
                double seconds = Measure.Seconds(() => next = session.DecodeGreedy(next));
                if (i >= plan.DecoderDecodeWarmup)
                {
                    times.Add(seconds * 1000);
                }
            }

            return Measure.Median(times);
        }
    }
}
