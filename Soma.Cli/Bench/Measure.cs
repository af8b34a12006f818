using System.Diagnostics;
using Soma;
using Soma.Internal;

namespace Soma.Cli.Bench;

/// <summary>Timing and error helpers shared by the benchmark's sections.</summary>
internal static class Measure
{
    public static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        int n = sorted.Length;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }

    /// <summary>Median milliseconds of <paramref name="steps"/> decode steps after <paramref name="warmup"/> untimed ones.</summary>
    public static double DecodeMedianMs(SomaSession session, float[] x, int warmup, int steps)
    {
        int d = session.Layer.Options.ModelDim;
        var times = new List<double>(steps);
        var y = new float[d];

        // Large host arrays from filling other sessions must not be collected inside the timed steps.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var sw = new Stopwatch();
        for (int i = 0; i < warmup + steps; i++)
        {
            var row = x.AsSpan((i % (x.Length / d)) * d, d);
            sw.Restart();
            session.Decode(row, y);
            if (i >= warmup)
            {
                times.Add(sw.Elapsed.TotalMilliseconds);
            }
        }

        return Median(times);
    }

    /// <summary>The fastest of <paramref name="repeats"/> timed calls of <paramref name="action"/>, each after an untimed <paramref name="prepare"/>.</summary>
    public static double Best(int repeats, Action prepare, Action action)
    {
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            prepare();
            best = Math.Min(best, Seconds(action));
        }

        return best;
    }

    /// <summary>Wall-clock seconds of one call.</summary>
    public static double Seconds(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>Mean and max absolute error and cosine of <paramref name="a"/> against <paramref name="b"/>, over rows from <paramref name="firstRow"/>.</summary>
    public static (double Mean, double Max, double Cos) Errors(float[] a, float[] b, int width, int firstRow = 0)
    {
        double sum = 0, max = 0, dot = 0, na = 0, nb = 0;
        int count = 0;
        for (int i = firstRow * width; i < a.Length; i++)
        {
            double e = Math.Abs(a[i] - (double)b[i]);
            sum += e;
            max = Math.Max(max, e);
            dot += a[i] * (double)b[i];
            na += a[i] * (double)a[i];
            nb += b[i] * (double)b[i];
            count++;
        }

        double cos = na == 0 && nb == 0 ? 1 : dot / Math.Sqrt(na * nb);
        return (sum / Math.Max(1, count), max, cos);
    }

    /// <summary>
    /// Bytes a decode step must read: the projection weights in their storage type and the fp32 biases, plus the
    /// attention state it reads in the ring's storage type (Soma: the min(n, W) ring rows and the fp64 field; standard:
    /// all n cached rows).
    /// </summary>
    public static long DecodeBytes(SomaLayerOptions o, long history, bool standard)
    {
        long d = o.ModelDim, q = o.Heads * o.HeadDim, kv = o.KvHeads * o.HeadDim;
        long weights = (d * (q + 2 * kv) + q * d) * StorageTypes.Bytes(o.WeightStorage ?? SomaStorageType.Float32) + ((q + 2 * kv) + d) * sizeof(float);
        long rows = standard ? history + 1 : Math.Min(history + 1, o.Window);
        long state = rows * KvRowBytes(o) + (standard ? 0 : kv * sizeof(double));
        return weights + state;
    }

    /// <summary>
    /// Bytes of one token's keys and values, 2 Hkv dh elements in the ring's storage type: a standard KV cache row (the
    /// baseline stores its cache in the same type as Soma's ring).
    /// </summary>
    /// <param name="o">The layer's options.</param>
    public static long KvRowBytes(SomaLayerOptions o) => 2L * o.KvHeads * o.HeadDim * StorageTypes.Bytes(o.RingStorage);
}
