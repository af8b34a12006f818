using System.Diagnostics;
using Soma;
using Soma.Reference;
using Spectre.Console;

namespace Soma.Cli.Bench;

/// <summary>
/// Every section of the benchmark on one accelerator: verify against the reference, fidelity against standard
/// attention, decode latency against history, prefill throughput, memory per session, the whole model
/// (<see cref="ModelBench"/>), and the targets.
/// </summary>
internal sealed class AcceleratorBench
{
    private readonly SomaEngine engine;
    private readonly BenchPlan plan;
    private readonly int seed;

    public AcceleratorBench(SomaEngine engine, BenchPlan plan, int seed)
    {
        this.engine = engine;
        this.plan = plan;
        this.seed = seed;
    }

    private SomaLayerOptions Shape => plan.Shape;

    public AcceleratorRun Run(BenchProgress progress)
    {
        var sw = Stopwatch.StartNew();
        var label = $"{engine.Device.Kind.ToString().ToLowerInvariant()} {plan.ShapeName}";
        var verify = Step(progress, $"{label}: verify vs reference", 1, t => Verify());
        var fidelity = Step(progress, $"{label}: fidelity", plan.FidelityLengths.Length * 2, Fidelity);
        var decode = Step(progress, $"{label}: decode vs history", plan.Histories.Length, Decode);
        var prefill = Step(progress, $"{label}: prefill", plan.PrefillLengths.Length, Prefill);
        // The standard baseline's KV cache holds its keys and values in the same storage type as Soma's ring.
        var memory = plan.Histories.Select(n => new MemoryRecord(
            n, Shape.StateBytes, n * Measure.KvRowBytes(Shape), (double)(n * Measure.KvRowBytes(Shape)) / Shape.StateBytes)).ToList();
        var batch = Step(progress, $"{label}: batched decode", plan.Batches.Length, Batch);
        var capacity = Capacity();
        var model = Step(progress, $"{label}: whole model ({plan.Decoder.Name})", ModelBench.Units, new ModelBench(engine, plan, seed).Run);
        var targets = Targets(decode, prefill, memory);
        var d = engine.Device;
        return new AcceleratorRun(
            new DeviceRecord(d.Kind.ToString().ToLowerInvariant(), d.Name, d.MemoryBytes, d.WarpSize, d.MaxGroupSize, d.Multiprocessors, d.PeakBandwidth / 1e9, d.Note),
            ShapeRecord.Of(plan.ShapeName, Shape),
            verify, fidelity, decode, prefill, memory, batch, capacity, targets, model, sw.Elapsed.TotalSeconds);
    }

    private static T Step<T>(BenchProgress progress, string name, int units, Func<BenchPhase, T> body)
    {
        var task = progress.Start(name, units);
        var result = body(task);
        task.Stop();
        return result;
    }

    private VerifyRecord Verify()
    {
        var weights = SomaLayerWeights.CreateRandom(Shape, seed, biases: true);
        int d = Shape.ModelDim;
        var x = QuickRun.RandomInputs(d, plan.VerifyTokens + plan.VerifySteps, seed + 1);
        using var layer = engine.CreateLayer(Shape, weights);
        using var session = layer.CreateSession();
        var yPrefill = session.Prefill(x.AsSpan(0, plan.VerifyTokens * d));
        var yDecode = new List<float>();
        for (int t = plan.VerifyTokens; t < plan.VerifyTokens + plan.VerifySteps; t++)
        {
            yDecode.AddRange(session.Decode(x.AsSpan(t * d, d)));
        }

        var reference = new SomaReference(Shape, weights);
        var expected = reference.Run(reference.CreateState(), x);
        var p = Comparison.Of(yPrefill, expected.AsSpan(0, plan.VerifyTokens * d));
        var q = Comparison.Of(yDecode.ToArray(), expected.AsSpan(plan.VerifyTokens * d));
        bool pass = p.RelativeMaxError <= QuickRun.MaxRelativeError && q.RelativeMaxError <= QuickRun.MaxRelativeError
            && p.Cosine >= QuickRun.MinCosine && q.Cosine >= QuickRun.MinCosine;
        return new VerifyRecord(plan.VerifyTokens, plan.VerifySteps, p.RelativeMaxError, p.Cosine, q.RelativeMaxError, q.Cosine, pass);
    }

    private List<FidelityRecord> Fidelity(BenchPhase task)
    {
        var result = new List<FidelityRecord>();
        int d = Shape.ModelDim;
        foreach (bool includeCurrent in new[] { true, false })
        {
            foreach (int n in plan.FidelityLengths)
            {
                var o = new SomaLayerOptions(d, Shape.Heads, Shape.KvHeads, Shape.HeadDim, window: n, includeCurrent, Shape.RopeTheta, maxChunkTokens: Shape.MaxChunkTokens);
                var weights = SomaLayerWeights.CreateRandom(o, seed + n, biases: true, alpha: 0f);
                var x = QuickRun.RandomInputs(d, n, seed + 2 * n);
                float[] ySoma, yStandard;
                using (var soma = engine.CreateLayer(o, weights))
                using (var session = soma.CreateSession())
                {
                    ySoma = session.Prefill(x);
                }

                var causal = new SomaLayerOptions(d, Shape.Heads, Shape.KvHeads, Shape.HeadDim, window: n, includeCurrent: true, Shape.RopeTheta, maxChunkTokens: Shape.MaxChunkTokens);
                using (var standard = engine.CreateStandardAttentionLayer(causal, weights, n))
                using (var session = standard.CreateSession())
                {
                    yStandard = session.Prefill(x);
                }

                var all = Measure.Errors(ySoma, yStandard, d);
                var skip0 = Measure.Errors(ySoma, yStandard, d, firstRow: 1);
                result.Add(new FidelityRecord(n, includeCurrent ? "include_current" : "exclusive", all.Mean, all.Max, all.Cos, skip0.Cos));
                task.Increment(1);
            }
        }

        return result;
    }

    private List<DecodeRecord> Decode(BenchPhase task)
    {
        var result = new List<DecodeRecord>();
        var weights = SomaLayerWeights.CreateRandom(Shape, seed, biases: true);
        int steps = plan.DecodeSteps, warmup = plan.DecodeWarmup;
        var x = QuickRun.RandomInputs(Shape.ModelDim, 64, seed + 3);
        double? peak = engine.Device.PeakBandwidth;
        using var soma = engine.CreateLayer(Shape, weights);
        using var somaSession = soma.CreateSession();
        var somaMs = plan.Histories.ToDictionary(n => n, _ => double.MaxValue);
        var standardMs = plan.Histories.ToDictionary(n => n, _ => double.MaxValue);
        var profiles = new Dictionary<long, SomaCallProfile?>();

        // Rounds over all histories, interleaved, keeping each configuration's lowest round median: a slow round
        // caused by something else on the machine does not pass for a dependence on history.
        task.MaxValue = plan.DecodeRounds * plan.Histories.Length;
        for (int round = 0; round < plan.DecodeRounds; round++)
        {
            foreach (long n in plan.Histories)
            {
                HistoryFill.Fill(somaSession, n, seed);
                somaMs[n] = Math.Min(somaMs[n], Measure.DecodeMedianMs(somaSession, x, warmup, steps));
                profiles[n] = soma.LastCallProfile;
                using (var standard = engine.CreateStandardAttentionLayer(Shape, weights, checked((int)n + warmup + steps)))
                using (var session = standard.CreateSession())
                {
                    HistoryFill.Fill(session, n, seed);
                    standardMs[n] = Math.Min(standardMs[n], Measure.DecodeMedianMs(session, x, warmup, steps));
                }

                task.Increment(1);
            }
        }

        foreach (long n in plan.Histories)
        {
            long somaBytes = Measure.DecodeBytes(Shape, n, standard: false);
            long standardBytes = Measure.DecodeBytes(Shape, n, standard: true);
            double somaGbS = somaBytes / (somaMs[n] * 1e-3) / 1e9;
            double standardGbS = standardBytes / (standardMs[n] * 1e-3) / 1e9;
            result.Add(new DecodeRecord(
                n, somaMs[n], standardMs[n], standardMs[n] / somaMs[n], (double)standardBytes / somaBytes, somaBytes, standardBytes,
                somaGbS, standardGbS, peak is { } p ? 100 * somaGbS * 1e9 / p : null, peak is { } p2 ? 100 * standardGbS * 1e9 / p2 : null,
                steps, plan.DecodeRounds, ProfileRecord.Of(profiles.GetValueOrDefault(n)), Predictions.For(Shape, 1, n, profiles.GetValueOrDefault(n))));
        }

        return result;
    }

    private List<PrefillRecord> Prefill(BenchPhase task)
    {
        var result = new List<PrefillRecord>();
        var weights = SomaLayerWeights.CreateRandom(Shape, seed, biases: true);
        int d = Shape.ModelDim;
        using var soma = engine.CreateLayer(Shape, weights);
        using var session = soma.CreateSession();
        using (var warm = soma.CreateSession())
        {
            warm.Prefill(QuickRun.RandomInputs(d, 8, seed));
        }

        // Copies serialized on the compute stream: the overlap is fixed per engine (SomaEngineOptions.OverlapCopies),
        // so the comparison runs on an engine of its own, made only when some prompt is longer than one pass.
        bool anyPipelined = plan.PrefillLengths.Any(n => n > Shape.MaxChunkTokens);
        using var serialEngine = anyPipelined ? SomaEngine.Create(engine.Options with { OverlapCopies = false }) : null;
        using var serialLayer = serialEngine?.CreateLayer(Shape, weights);
        using var serialSession = serialLayer?.CreateSession();
        serialSession?.Prefill(QuickRun.RandomInputs(d, 8, seed));

        foreach (int n in plan.PrefillLengths)
        {
            var x = QuickRun.RandomInputs(d, n, seed + n);

            // Outputs go to one reused, already-touched buffer, as in a serving loop: the timings are the layer's,
            // not the OS's first-touch page faults on a fresh array.
            var y = new float[x.Length];
            session.Reset();
            session.Prefill(x.AsSpan(0, Math.Min(n, 8) * d), y.AsSpan(0, Math.Min(n, 8) * d));

            // A prompt longer than one pass is also timed with every copy on the compute stream, to show what the
            // overlap gains; the two are interleaved round by round so that machine noise does not pass for either.
            bool pipelined = n > Shape.MaxChunkTokens;
            double parallel = double.MaxValue, serial = double.MaxValue;
            for (int round = 0; round < plan.PrefillRepeats; round++)
            {
                parallel = Math.Min(parallel, TimePrefill(session));
                if (pipelined)
                {
                    serial = Math.Min(serial, TimePrefill(serialSession!));
                }
            }

            double? serialTokS = pipelined ? n / serial : null;
            var profile = soma.LastCallProfile;

            double TimePrefill(SomaSession timed)
            {
                timed.Reset();
                GC.Collect();
                return Measure.Seconds(() => timed.Prefill(x, y));
            }

            session.Reset();
            int loopTokens = Math.Min(n, plan.LoopTokenCap);
            double loop = Measure.Seconds(() =>
            {
                for (int t = 0; t < loopTokens; t++)
                {
                    session.Decode(x.AsSpan(t * d, d), y.AsSpan(t * d, d));
                }
            });
            double standardSeconds;
            using (var standard = engine.CreateStandardAttentionLayer(Shape, weights, n))
            using (var s = standard.CreateSession())
            {
                s.Prefill(x.AsSpan(0, Math.Min(n, 8) * d), y.AsSpan(0, Math.Min(n, 8) * d));
                standardSeconds = Measure.Best(plan.PrefillRepeats, () =>
                {
                    s.Reset();
                    GC.Collect();
                }, () => s.Prefill(x, y));
            }

            double parallelTokS = n / parallel, loopTokS = loopTokens / loop;
            result.Add(new PrefillRecord(
                n, parallelTokS, loopTokS, n / standardSeconds, loopTokens, parallelTokS / loopTokS, serialTokS, ProfileRecord.Of(profile),
                Predictions.For(Shape, n, 0, profile)));
            task.Increment(1);
        }

        return result;
    }

    private List<BatchRecord> Batch(BenchPhase task)
    {
        // One layer, and a model of plan.ModelLayers such layers, decoding B sessions per call at about the same history.
        var result = new List<BatchRecord>();
        int d = Shape.ModelDim;
        int capacity = plan.Batches.Max();
        using var layer = engine.CreateLayer(Shape, SomaLayerWeights.CreateRandom(Shape, seed, biases: true));
        using var pool = layer.CreatePool(capacity);
        var sessions = Enumerable.Range(0, capacity).Select(_ => pool.OpenSession()).ToArray();
        using var model = engine.CreateModel(
            Shape, Enumerable.Range(0, plan.ModelLayers).Select(l => SomaLayerWeights.CreateRandom(Shape, seed + 1 + l, biases: true)).ToArray());
        using var modelPool = model.CreatePool(capacity);
        var sequences = Enumerable.Range(0, capacity).Select(_ => modelPool.OpenSession()).ToArray();
        for (int i = 0; i < capacity; i++)
        {
            HistoryFill.Fill(sessions[i], plan.BatchHistory + i, seed + i);
            HistoryFill.Fill(sequences[i], plan.BatchHistory + i, seed + capacity + i);
        }

        foreach (int b in plan.Batches)
        {
            var x = QuickRun.RandomInputs(d, b, seed + b);
            var y = new float[x.Length];
            var members = sessions.Take(b).ToArray();
            var modelMembers = sequences.Take(b).ToArray();
            double ms = StepMs(() => layer.DecodeBatch(members, x, y));
            var profile = layer.LastCallProfile;
            double modelMs = StepMs(() => model.DecodeBatch(modelMembers, x, y));
            result.Add(BatchRecord.Of(b, plan.BatchHistory, ms, profile, engine.Device.PeakBandwidth, plan.ModelLayers, modelMs));
            task.Increment(1);
        }

        return result;

        double StepMs(Action step)
        {
            var times = new List<double>();
            for (int i = 0; i < plan.BatchWarmup + plan.BatchSteps; i++)
            {
                double seconds = Measure.Seconds(step);
                if (i >= plan.BatchWarmup)
                {
                    times.Add(seconds * 1000);
                }
            }

            return Measure.Median(times);
        }
    }

    private List<CapacityRecord> Capacity()
    {
        // Sessions per budget follow from the state sizes; the pool that CreatePoolForBudget allocates for the
        // budget is measured too (its device bytes), so the Soma figure is what the runtime really reserves.
        var result = new List<CapacityRecord>();
        long budget = plan.CapacityBudgetBytes;
        var weights = SomaLayerWeights.CreateRandom(Shape, seed);
        long measured;
        using (var layer = engine.CreateLayer(Shape, weights))
        {
            long before = engine.AllocatedBytes;
            using var pool = layer.CreatePoolForBudget(budget);
            measured = engine.AllocatedBytes - before;
        }

        foreach (long n in new long[] { 4096, 65536 })
        {
            long soma = budget / Shape.StateBytes;
            long standard = budget / (n * Measure.KvRowBytes(Shape));
            result.Add(new CapacityRecord(n, budget, soma, standard, standard > 0 ? (double)soma / standard : double.PositiveInfinity, measured));
        }

        return result;
    }

    private List<TargetRecord> Targets(List<DecodeRecord> decode, List<PrefillRecord> prefill, List<MemoryRecord> memory)
    {
        var targets = new List<TargetRecord>();
        double flat = decode.Max(r => r.SomaMs) / decode.Min(r => r.SomaMs);
        targets.Add(new TargetRecord(
            $"Soma decode flat across history {decode[0].History}..{decode[^1].History}", $"max/min {flat:F3}", "<= 1.10", flat <= 1.10));
        var last = decode[^1];
        targets.Add(new TargetRecord(
            $"Soma decode speed-up over standard at {last.History}", $"{last.Ratio:F2}x (ideal {last.IdealRatio:F2}x)",
            $">= {0.9 * last.IdealRatio:F2}x (0.9 x ideal)", last.Ratio >= 0.9 * last.IdealRatio));
        if (prefill.FirstOrDefault(p => p.Tokens == 1024) is { } p1k)
        {
            targets.Add(new TargetRecord("Soma parallel prefill over token-by-token loop at 1024", $"{p1k.ParallelOverLoop:F1}x", ">= 20x", p1k.ParallelOverLoop >= 20));
        }

        var from2k = prefill.Where(p => p.Tokens >= 2048).ToList();
        if (from2k.Count > 0)
        {
            bool faster = from2k.All(p => p.SomaParallelTokS > p.StandardTokS);
            targets.Add(new TargetRecord(
                "Soma parallel prefill faster than standard causal prefill from 2048 on",
                string.Join(", ", from2k.Select(p => $"{p.Tokens}: {p.SomaParallelTokS / p.StandardTokS:F2}x")), "> 1x at every n", faster));
        }

        var m = memory[^1];
        double ideal = (double)m.History / Shape.Window;
        // KV cache 2 n Hkv dh of b bytes against ring 2 W Hkv dh of b bytes plus the fp64 field Hkv dh: 2bn / (2bW + 8)
        // (n / (W + 1) in fp32, n / (W + 2) with a 16-bit ring).
        int b = Soma.Internal.StorageTypes.Bytes(Shape.RingStorage);
        double bound = 2.0 * b * m.History / (2.0 * b * Shape.Window + sizeof(double));
        targets.Add(new TargetRecord(
            $"Memory ratio at {m.History}", $"{m.Ratio:F1}x", $"n/W = {ideal:F1}x less the field's share ({bound:F1}x)", Math.Abs(m.Ratio - bound) < 1e-6 * bound));
        return targets;
    }
}
