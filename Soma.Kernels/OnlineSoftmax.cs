using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// The state of a streaming (online) softmax over scores seen so far: their running max m and the sum
/// l = sum_j e^(s_j - m). An accumulator of weighted values kept beside it is scaled with it. Used by
/// <see cref="NearFieldAttention"/> and <see cref="SplitKvDecodeAttention"/> tile by tile; <see cref="MergeSplits"/>, the
/// one merge of split partial states, by <see cref="SoftmaxCombine"/> and by <see cref="SplitKvDecodeAttention"/>'s last group.
/// </summary>
internal struct OnlineSoftmax
{
    /// <summary>Running max m of the scores (negative infinity before any).</summary>
    public float Max;
    /// <summary>Sum of e^(s - m) over the scores.</summary>
    public float Sum;

    /// <summary>A state (m, l).</summary>
    /// <param name="max">The running max.</param>
    /// <param name="sum">The sum of e^(s - max).</param>
    public OnlineSoftmax(float max, float sum)
    {
        Max = max;
        Sum = sum;
    }

    /// <summary>The state before any score: m = -inf, l = 0.</summary>
    public static OnlineSoftmax Empty => new(float.NegativeInfinity, 0f);

    /// <summary>Raises the max to cover <paramref name="score"/> (the sum is not rescaled: use on a copy, then <see cref="Rescale"/>).</summary>
    /// <param name="score">A score (or a partial state's max).</param>
    public void Observe(float score) => Max = XMath.Max(Max, score);

    /// <summary>e^(score - m): the weight of <paramref name="score"/> under this state's max.</summary>
    /// <param name="score">A score.</param>
    public readonly float Weight(float score) => XMath.Exp(score - Max);

    /// <summary>
    /// Moves the state to max <paramref name="max"/> &gt;= m: l becomes l e^(m - max). Returns e^(m - max), by which
    /// every accumulator kept under the old max must be scaled too.
    /// </summary>
    /// <param name="max">The new max.</param>
    public float Rescale(float max)
    {
        float correction = XMath.Exp(Max - max);
        Max = max;
        Sum *= correction;
        return correction;
    }

    /// <summary>
    /// Folds in <paramref name="other"/>, a partial state whose max is at most this one's (raise it first with
    /// <see cref="Observe"/>): l += e^(m_other - m) l_other. Returns that weight e^(m_other - m), by which the
    /// other's accumulator is added.
    /// </summary>
    /// <param name="other">A partial state.</param>
    public float Merge(OnlineSoftmax other)
    {
        float weight = Weight(other.Max);
        Sum += weight * other.Sum;
        return weight;
    }

    /// <summary>acc / l: an accumulator of weighted values normalised (0 when no score was seen).</summary>
    /// <param name="acc">Sum of e^(s_j - m) v_j.</param>
    public readonly float Normalize(float acc) => Sum > 0f ? acc / Sum : 0f;

    /// <summary>
    /// The one merge of split partial states: (sum_s e^(m_s - M) acc_s[d]) / (sum_s e^(m_s - M) l_s), M = max_s m_s,
    /// over the <paramref name="splits"/> states from <paramref name="first"/> on (0 when no split saw a score).
    /// </summary>
    /// <param name="max">Partial maxima m_s.</param>
    /// <param name="sum">Partial sums l_s.</param>
    /// <param name="acc">Partial accumulators, <paramref name="headDim"/> per state.</param>
    /// <param name="first">Index of the first split's state.</param>
    /// <param name="splits">States to merge.</param>
    /// <param name="headDim">Accumulator width dh.</param>
    /// <param name="d">The dimension.</param>
    public static float MergeSplits(ArrayView<float> max, ArrayView<float> sum, ArrayView<float> acc, int first, int splits, int headDim, int d)
    {
        var state = Empty;
        for (int s = 0; s < splits; s++)
        {
            state.Observe(max[first + s]);
        }

        float total = 0f;
        if (state.Max > float.NegativeInfinity)
        {
            for (int s = 0; s < splits; s++)
            {
                int p = first + s;
                total += state.Merge(new OnlineSoftmax(max[p], sum[p])) * acc[p * headDim + d];
            }
        }

        return state.Normalize(total);
    }
}
