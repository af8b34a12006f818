namespace Soma.Reference;

/// <summary>
/// Plain causal grouped-query attention with the same projections and RoPE, and no window and no field: the
/// standard every Soma identity is checked against. Keys of token t are positions 0..t (or 0..t-1 without the diagonal).
/// </summary>
public static class CausalAttentionReference
{
    /// <summary>y[n, D] for x[n, D]; with <paramref name="includeDiagonal"/> false, token 0 attends to nothing (near = 0).</summary>
    public static double[] Run(SomaLayerOptions options, SomaLayerWeights weights, ReadOnlySpan<float> x, bool includeDiagonal)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(weights);
        weights = weights.AsStored(options.WeightStorage ?? weights.ProjectionType);
        int d = options.ModelDim;
        int dh = options.HeadDim;
        int n = x.Length / d;
        var tokens = new ProjectedToken[n];
        for (int t = 0; t < n; t++)
        {
            tokens[t] = ReferenceMath.Project(options, weights, x.Slice(t * d, d), t);
        }

        var y = new double[n * d];
        for (int t = 0; t < n; t++)
        {
            var o = new double[options.Heads * dh];
            int last = includeDiagonal ? t : t - 1;
            for (int h = 0; h < options.Heads; h++)
            {
                int g = h / options.HeadsPerKvHead;
                var keys = new List<double[]>();
                var values = new List<double[]>();
                for (int j = 0; j <= last; j++)
                {
                    keys.Add(tokens[j].KRotated.AsSpan(g * dh, dh).ToArray());
                    values.Add(tokens[j].V.AsSpan(g * dh, dh).ToArray());
                }

                ReferenceMath.Attend(tokens[t].Q.AsSpan(h * dh, dh), keys, values, options.Scale).CopyTo(o, h * dh);
            }

            ReferenceMath.Output(options, weights, o).CopyTo(y, t * d);
        }

        return y;
    }
}
