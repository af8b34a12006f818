namespace Soma.Reference;

/// <summary>
/// The Soma layer in double precision, one token at a time, straight from the spec: the oracle for every test and
/// for the benchmark's verify step.
/// </summary>
public sealed class SomaReference
{
    private readonly SomaLayerOptions options;
    private readonly SomaLayerWeights weights;

    /// <summary>
    /// Creates the reference for a validated layer description. It computes with the weights as the layer stores
    /// them (<see cref="SomaLayerOptions.WeightStorage"/>, else the weights' own type) and, for a 16-bit
    /// <see cref="SomaLayerOptions.RingStorage"/>, with every key and value rounded as the ring stores it.
    /// </summary>
    public SomaReference(SomaLayerOptions options, SomaLayerWeights weights)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(weights);
        weights.Validate(options);
        this.options = options;
        this.weights = weights.AsStored(options.WeightStorage ?? weights.ProjectionType);
    }

    /// <summary>A fresh state (S = 0, empty ring, p = 0).</summary>
    public ReferenceState CreateState() => new(options);

    /// <summary>Runs n tokens x[n, D] through <paramref name="state"/>, returning y[n, D].</summary>
    public double[] Run(ReferenceState state, ReadOnlySpan<float> x)
    {
        int d = options.ModelDim;
        var y = new double[x.Length];
        for (int t = 0; t < x.Length / d; t++)
        {
            Step(state, x.Slice(t * d, d)).CopyTo(y, t * d);
        }

        return y;
    }

    /// <summary>Spec steps 1-7 for one token x[D] at the state's position; returns y[D] and advances the state.</summary>
    public double[] Step(ReferenceState state, ReadOnlySpan<float> x)
    {
        ArgumentNullException.ThrowIfNull(state);
        int dh = options.HeadDim;
        int w = options.Window;
        int kvWidth = options.KvHeads * dh;
        long p = state.Position;
        var token = ReferenceMath.Project(options, weights, x, p);

        if (options.IncludeCurrent)
        {
            WriteRing(state, token, p);
        }

        // Valid entries: the min(writes, W) most recent tokens written so far.
        long writes = options.IncludeCurrent ? p + 1 : p;
        long valid = Math.Min(writes, w);
        var o = new double[options.Heads * dh];
        for (int h = 0; h < options.Heads; h++)
        {
            int g = h / options.HeadsPerKvHead;
            var keys = new List<double[]>();
            var values = new List<double[]>();
            for (long q = writes - valid; q < writes; q++)
            {
                int slot = (int)(q % w);
                keys.Add(state.RingK.AsSpan(slot * kvWidth + g * dh, dh).ToArray());
                values.Add(state.RingV.AsSpan(slot * kvWidth + g * dh, dh).ToArray());
            }

            var near = ReferenceMath.Attend(token.Q.AsSpan(h * dh, dh), keys, values, options.Scale);
            for (int e = 0; e < dh; e++)
            {
                o[h * dh + e] = near[e] + weights.Alpha[h] * state.Field[g * dh + e];
            }
        }

        if (!options.IncludeCurrent)
        {
            WriteRing(state, token, p);
        }

        for (int c = 0; c < kvWidth; c++)
        {
            double gamma = weights.Gamma[c / dh];
            state.Field[c] = gamma * state.Field[c] + (1 - gamma) * token.KRaw[c];
        }

        state.Position = p + 1;
        return ReferenceMath.Output(options, weights, o);
    }

    private void WriteRing(ReferenceState state, ProjectedToken token, long p)
    {
        int kvWidth = options.KvHeads * options.HeadDim;
        int slot = (int)(p % options.Window);
        token.KRotated.CopyTo(state.RingK, slot * kvWidth);
        token.V.CopyTo(state.RingV, slot * kvWidth);
    }
}
