namespace Soma.Reference;

/// <summary>
/// The whole decoder in double precision, straight from the Hugging Face definition (see <see cref="CausalLMWeights"/>):
/// embeddings, per layer RMSNorm, attention through the layer references, residual, RMSNorm and SwiGLU MLP, residual,
/// final RMSNorm and LM head. The oracle of every whole-model test.
/// </summary>
public static class CausalLMReference
{
    /// <summary>
    /// Logits [n, V] of every token of <paramref name="tokens"/> (one sequence from position 0). Each Soma layer runs
    /// through <see cref="SomaReference"/>, each full-attention layer through <see cref="CausalAttentionReference"/>;
    /// with <paramref name="plainCausal"/> every layer runs through <see cref="CausalAttentionReference"/> (the
    /// original model, an independent path to compare Soma with alpha = 0 and W &gt;= n against).
    /// </summary>
    public static double[] Run(CausalLMWeights model, ReadOnlySpan<int> tokens, bool plainCausal = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        int d = model.ModelDim, v = model.VocabSize, n = tokens.Length;
        double eps = model.Config.RmsNormEps;
        var h = new double[n * d];
        for (int t = 0; t < n; t++)
        {
            if ((uint)tokens[t] >= (uint)v)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[t], $"tokens[{t}] must lie in [0, {v}).");
            }

            for (int c = 0; c < d; c++)
            {
                h[t * d + c] = model.Embedding[(long)tokens[t] * d + c];
            }
        }

        foreach (var layer in model.Layers)
        {
            var x = ToFloat(Norm(h, layer.InputNorm, d, eps));
            double[] a = plainCausal || layer.FullAttention
                ? CausalAttentionReference.Run(layer.Options, layer.Attention, x, includeDiagonal: true)
                : RunSoma(layer, x);
            Add(h, a);
            var u = Norm(h, layer.PostAttentionNorm, d, eps);
            int inter = model.Config.IntermediateSize;
            for (int t = 0; t < n; t++)
            {
                var row = u.AsSpan(t * d, d);
                var gate = ReferenceMath.Linear(layer.Gate, null, row, inter);
                var up = ReferenceMath.Linear(layer.Up, null, row, inter);
                for (int i = 0; i < inter; i++)
                {
                    gate[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i];
                }

                var down = ReferenceMath.Linear(layer.Down, null, gate, d);
                for (int c = 0; c < d; c++)
                {
                    h[t * d + c] += down[c];
                }
            }
        }

        var final = Norm(h, model.FinalNorm, d, eps);
        var logits = new double[(long)n * v];
        for (int t = 0; t < n; t++)
        {
            ReferenceMath.Linear(model.Head, null, final.AsSpan(t * d, d), v).CopyTo(logits, (long)t * v);
        }

        return logits;
    }

    /// <summary>RMSNorm of every row: x / sqrt(mean(x^2) + eps) * w.</summary>
    public static double[] Norm(ReadOnlySpan<double> h, float[] weight, int d, double eps)
    {
        ArgumentNullException.ThrowIfNull(weight);
        var y = new double[h.Length];
        for (int t = 0; t < h.Length / d; t++)
        {
            double sum = 0;
            for (int c = 0; c < d; c++)
            {
                sum += h[t * d + c] * h[t * d + c];
            }

            double inv = 1.0 / Math.Sqrt(sum / d + eps);
            for (int c = 0; c < d; c++)
            {
                y[t * d + c] = h[t * d + c] * inv * weight[c];
            }
        }

        return y;
    }

    private static double[] RunSoma(DecoderLayerWeights layer, float[] x)
    {
        var reference = new SomaReference(layer.Options, layer.Attention);
        return reference.Run(reference.CreateState(), x);
    }

    private static void Add(double[] h, double[] a)
    {
        for (int i = 0; i < h.Length; i++)
        {
            h[i] += a[i];
        }
    }

    private static float[] ToFloat(double[] values) => Array.ConvertAll(values, v => (float)v);
}
