namespace Soma;

/// <summary>
/// Picks tokens from logits as <see cref="SamplingOptions"/> say, with its own seeded generator: the same options and
/// logits give the same tokens on every run. One sampler per conversation; not thread-safe.
/// </summary>
public sealed class SomaSampler
{
    private readonly Random random;
    private int[] order = [];
    private long draws;
    private double[] weights = [];

    /// <summary>A sampler for <paramref name="options"/>.</summary>
    public SomaSampler(SamplingOptions options)
    {
        Options = options ?? throw new ArgumentNullException(nameof(options));
        random = new Random(options.Seed);
    }

    /// <summary>The options.</summary>
    public SamplingOptions Options { get; }

    /// <summary>
    /// True when a causal LM session draws this sampler's tokens on the device (temperature without top-k or top-p:
    /// Gumbel-max, one int downloaded, noise from <see cref="SamplingOptions.Seed"/> and the draw count, not this
    /// sampler's generator); top-k and top-p download the logits and draw here.
    /// </summary>
    internal bool DrawsOnDevice => !Options.Greedy && Options.TopK == 0 && Options.TopP >= 1;

    /// <summary>The next draw on the device: 1 / temperature, the seed and the draw count (then counted).</summary>
    internal Internal.DeviceDraw NextDraw() => new((float)(1 / Options.Temperature), Options.Seed, draws++);

    /// <summary>The next token for <paramref name="logits"/> [V]: the argmax when greedy, else a draw (temperature, top-k, top-p).</summary>
    public int Sample(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty)
        {
            throw new ArgumentException("logits is empty; expected V >= 1 values.", nameof(logits));
        }

        if (Options.Greedy)
        {
            return ArgMax(logits);
        }

        int v = logits.Length;
        if (order.Length != v)
        {
            (order, weights) = (new int[v], new double[v]);
        }

        for (int i = 0; i < v; i++)
        {
            order[i] = i;
        }

        var values = logits.ToArray();
        Array.Sort(order, (a, b) => values[b].CompareTo(values[a]) is var c && c != 0 ? c : a.CompareTo(b));
        int keep = Options.TopK > 0 ? Math.Min(Options.TopK, v) : v;
        double max = values[order[0]];
        double sum = 0;
        for (int i = 0; i < keep; i++)
        {
            weights[i] = Math.Exp((values[order[i]] - max) / Options.Temperature);
            sum += weights[i];
        }

        // Top-p: the smallest prefix whose probability reaches p (always at least one token).
        double cumulative = 0;
        int kept = 0;
        while (kept < keep)
        {
            cumulative += weights[kept++] / sum;
            if (cumulative >= Options.TopP)
            {
                break;
            }
        }

        double total = 0;
        for (int i = 0; i < kept; i++)
        {
            total += weights[i];
        }

        double draw = random.NextDouble() * total;
        for (int i = 0; i < kept; i++)
        {
            draw -= weights[i];
            if (draw < 0)
            {
                return order[i];
            }
        }

        return order[kept - 1];
    }

    /// <summary>The index of the largest value (the first of equal maxima).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            best = values[i] > values[best] ? i : best;
        }

        return best;
    }
}
