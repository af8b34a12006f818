using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// The state of a streaming (online) softmax over scores seen so far: their running max m and the sum
/// l = sum_j e^(s_j - m). An accumulator of weighted values kept beside it is scaled with it. Used by
/// <see cref="NearFieldAttention"/> tile by tile and by <see cref="SoftmaxCombine"/> split by split.
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
}
