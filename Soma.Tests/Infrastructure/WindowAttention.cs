using Soma.Reference;

namespace Soma.Tests.Infrastructure;

/// <summary>
/// The expected output of one (row, head) of an attention kernel test, in double: softmax over the keys at positions
/// lo .. hi of a segment (from the chunk's rows at and after the segment's first position, else from its slot's ring
/// at position mod W) plus alpha_h times the field before the row, as <see cref="ReferenceMath.Attend"/> computes it.
/// </summary>
/// <param name="K">The chunk's keys [n, Hkv, dh].</param>
/// <param name="V">The chunk's values.</param>
/// <param name="RingK">The rings' keys [slots, W, Hkv, dh].</param>
/// <param name="RingV">The rings' values.</param>
/// <param name="KvHeads">Key/value heads Hkv.</param>
/// <param name="HeadDim">Head dimension dh.</param>
/// <param name="Window">Ring capacity W.</param>
internal sealed record WindowAttention(float[] K, float[] V, float[] RingK, float[] RingV, int KvHeads, int HeadDim, int Window)
{
    /// <summary>The expected o for query <paramref name="q"/> of kv-head <paramref name="g"/> over [lo, hi] of a segment, plus <paramref name="far"/> (null: none).</summary>
    /// <param name="q">The head's query (dh values).</param>
    /// <param name="g">The kv-head.</param>
    /// <param name="slot">The segment's state slot.</param>
    /// <param name="start">The segment's first row in the chunk.</param>
    /// <param name="first">The segment's first position.</param>
    /// <param name="lo">First key position.</param>
    /// <param name="hi">Last key position.</param>
    /// <param name="scale">Softmax scale.</param>
    /// <param name="far">alpha_h times the field before the row (dh values), or null.</param>
    public double[] Expected(ReadOnlySpan<float> q, int g, int slot, int start, long first, long lo, long hi, double scale, double[]? far)
    {
        int kv = KvHeads * HeadDim;
        var keys = new List<double[]>();
        var values = new List<double[]>();
        for (long pos = lo; pos <= hi; pos++)
        {
            bool inChunk = pos >= first;
            int offset = (inChunk ? (start + (int)(pos - first)) * kv : (slot * Window + (int)(pos % Window)) * kv) + g * HeadDim;
            keys.Add(Widen((inChunk ? K : RingK).AsSpan(offset, HeadDim)));
            values.Add(Widen((inChunk ? V : RingV).AsSpan(offset, HeadDim)));
        }

        var expected = ReferenceMath.Attend(Widen(q), keys, values, scale);
        for (int e = 0; far is not null && e < HeadDim; e++)
        {
            expected[e] += far[e];
        }

        return expected;
    }

    private static double[] Widen(ReadOnlySpan<float> values)
    {
        var result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = values[i];
        }

        return result;
    }
}
