namespace Soma.Reference;

/// <summary>One token's projections in double precision: q and k rotated, k also before rotation.</summary>
/// <param name="Q">q after RoPE, [H*dh].</param>
/// <param name="KRotated">k after RoPE, [Hkv*dh] (what the ring stores).</param>
/// <param name="KRaw">k before RoPE, [Hkv*dh] (what the field integrates).</param>
/// <param name="V">v, [Hkv*dh].</param>
public sealed record ProjectedToken(double[] Q, double[] KRotated, double[] KRaw, double[] V);

/// <summary>
/// The building blocks of the layer, written straight from the spec in plain double-precision C#. These are the
/// oracle: no ILGPU, no shortcuts, one token at a time.
/// </summary>
public static class ReferenceMath
{
    /// <summary>y = W x + b for W [rows, cols] row-major (b may be null).</summary>
    public static double[] Linear(float[] weight, float[]? bias, ReadOnlySpan<double> x, int rows)
    {
        int cols = x.Length;
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double acc = bias is null ? 0.0 : bias[r];
            for (int c = 0; c < cols; c++)
            {
                acc += weight[(long)r * cols + c] * x[c];
            }

            y[r] = acc;
        }

        return y;
    }

    /// <summary>
    /// Rotate-half RoPE in place on each head of <paramref name="heads"/> (length = count * dh) at absolute position p:
    /// for j &lt; dh/2, angle = p * theta^(-2j/dh), (x_j, x_{j+dh/2}) -&gt; (x_j cos - x_{j+dh/2} sin, x_{j+dh/2} cos + x_j sin).
    /// </summary>
    public static void Rope(Span<double> heads, int headDim, long position, double theta)
    {
        int half = headDim / 2;
        for (int h = 0; h < heads.Length / headDim; h++)
        {
            var v = heads.Slice(h * headDim, headDim);
            for (int j = 0; j < half; j++)
            {
                double angle = position * Math.Pow(theta, -2.0 * j / headDim);
                double c = Math.Cos(angle);
                double s = Math.Sin(angle);
                double x1 = v[j];
                double x2 = v[j + half];
                v[j] = x1 * c - x2 * s;
                v[j + half] = x2 * c + x1 * s;
            }
        }
    }

    /// <summary>Each value as <paramref name="type"/> stores the fp32 the device computes: rounded to fp32, then to <paramref name="type"/>.</summary>
    private static void RoundAsStored(Span<double> values, SomaStorageType type)
    {
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = Internal.StorageTypes.Round((float)values[i], type);
        }
    }

    /// <summary>
    /// Spec steps 1-2: q, k, v of one token and their rotated forms at absolute position p. With a 16-bit
    /// <see cref="SomaLayerOptions.RingStorage"/> the rotated k and v are rounded as the ring stores them (the unrotated
    /// k, which the field integrates, is not); the weights are used as given (<see cref="SomaReference"/> passes them
    /// rounded to the layer's weight storage).
    /// </summary>
    public static ProjectedToken Project(SomaLayerOptions options, SomaLayerWeights weights, ReadOnlySpan<float> x, long position)
    {
        var xd = new double[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            xd[i] = x[i];
        }

        int q = options.Heads * options.HeadDim;
        int kv = options.KvHeads * options.HeadDim;
        var qv = Linear(weights.Wq, weights.Bq, xd, q);
        var kRaw = Linear(weights.Wk, weights.Bk, xd, kv);
        var v = Linear(weights.Wv, weights.Bv, xd, kv);
        var kRot = (double[])kRaw.Clone();
        if (options.RopeTheta is { } theta)
        {
            Rope(qv, options.HeadDim, position, theta);
            Rope(kRot, options.HeadDim, position, theta);
        }

        if (options.RingStorage != SomaStorageType.Float32)
        {
            // The projection writes k and v in the ring's type (the chunk's rows and the ring alike): attention reads
            // them rounded, the current token's own row included. The field integrates the unrounded k.
            RoundAsStored(kRot, options.RingStorage);
            RoundAsStored(v, options.RingStorage);
        }

        return new ProjectedToken(qv, kRot, kRaw, v);
    }

    /// <summary>
    /// Softmax attention of one query head over the given keys: sum_j softmax(scale q.k_j)_j v_j, or zeros when
    /// there is no key. <paramref name="keys"/> and <paramref name="values"/> are lists of dh-length rows.
    /// </summary>
    public static double[] Attend(ReadOnlySpan<double> query, IReadOnlyList<double[]> keys, IReadOnlyList<double[]> values, double scale)
    {
        var result = new double[query.Length];
        if (keys.Count == 0)
        {
            return result;
        }

        var scores = new double[keys.Count];
        double max = double.NegativeInfinity;
        for (int j = 0; j < keys.Count; j++)
        {
            double dot = 0;
            for (int d = 0; d < query.Length; d++)
            {
                dot += query[d] * keys[j][d];
            }

            scores[j] = scale * dot;
            max = Math.Max(max, scores[j]);
        }

        double sum = 0;
        for (int j = 0; j < keys.Count; j++)
        {
            scores[j] = Math.Exp(scores[j] - max);
            sum += scores[j];
        }

        for (int j = 0; j < keys.Count; j++)
        {
            double p = scores[j] / sum;
            for (int d = 0; d < query.Length; d++)
            {
                result[d] += p * values[j][d];
            }
        }

        return result;
    }

    /// <summary>Spec step 6: y = Wo concat(o_h) + bo.</summary>
    public static double[] Output(SomaLayerOptions options, SomaLayerWeights weights, ReadOnlySpan<double> o) =>
        Linear(weights.Wo, weights.Bo, o, options.ModelDim);
}
