using ILGPU;

namespace Soma.Kernels;

/// <summary>Inputs and outputs of one near-field attention launch (and its split combine).</summary>
internal struct AttentionArgs
{
    /// <summary>Rotated queries q[n, H, dh].</summary>
    public ArrayView<float> Q;
    /// <summary>Field state before each token, [n, Hkv, dh].</summary>
    public ArrayView<float> FieldPrev;
    /// <summary>Far-field gain per query head, alpha[H].</summary>
    public ArrayView<float> Alpha;
    /// <summary>Output o[n, H, dh] = near + alpha * S_prev.</summary>
    public ArrayView<float> Output;
    /// <summary>Segment index of each row, [n].</summary>
    public ArrayView<int> RowSegment;
    /// <summary>Token count n.</summary>
    public int Tokens;
    /// <summary>Query heads H.</summary>
    public int Heads;
    /// <summary>Key/value heads Hkv.</summary>
    public int KvHeads;
    /// <summary>Head dimension dh.</summary>
    public int HeadDim;
    /// <summary>Ring capacity W.</summary>
    public int Window;
    /// <summary>1: the window ends at the current token; 0: it holds only earlier tokens.</summary>
    public int IncludeCurrent;
    /// <summary>1: add alpha * S_prev (Soma); 0: near field only (the standard-attention baseline).</summary>
    public int FarField;
    /// <summary>Partial running max per (row, head, split) when the tiling splits the window.</summary>
    public ArrayView<float> PartialMax;
    /// <summary>Partial softmax denominator per (row, head, split).</summary>
    public ArrayView<float> PartialSum;
    /// <summary>Partial unnormalised value sums per (row, head, split, dim).</summary>
    public ArrayView<float> PartialAcc;
    /// <summary>
    /// Splits arrived per (row, kv-head) of a split <see cref="SplitKvDecodeAttention"/> launch, [n, Hkv]: 0 between
    /// launches (the last group of each resets its count).
    /// </summary>
    public ArrayView<int> Arrivals;
    /// <summary>Softmax scale.</summary>
    public float Scale;

    /// <summary>o[t, h, d] = <paramref name="near"/> + alpha_h S_prev[t, g(h), d] (the far field only when <see cref="FarField"/>).</summary>
    /// <param name="t">The token row.</param>
    /// <param name="h">The query head.</param>
    /// <param name="d">The dimension.</param>
    /// <param name="near">The normalised near-field value.</param>
    public readonly void WriteOutput(int t, int h, int d, float near)
    {
        int g = h / (Heads / KvHeads);
        float far = FarField != 0 ? Alpha[h] * FieldPrev[(t * KvHeads + g) * HeadDim + d] : 0f;
        Output[(t * Heads + h) * HeadDim + d] = near + far;
    }
}
