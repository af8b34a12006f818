using ILGPU;

namespace Soma.Kernels;

/// <summary>
/// The second half of split-window attention: merges the splits' partial softmax states (<see cref="OnlineSoftmax"/>)
/// of each (row, head) and writes the output with the far field, as <see cref="NearFieldAttention"/> does unsplit.
/// </summary>
internal static class SoftmaxCombine
{
    // o[t, h, d] = (sum_s e^(m_s - M) acc_s) / (sum_s e^(m_s - M) l_s) + alpha_h S_prev, M = max_s m_s;
    // launch: any explicit group shape, grid-stride over n * H * dh.
    public static void Kernel(AttentionArgs a, AttentionTiling tiling)
    {
        int dh = a.HeadDim;
        int splits = tiling.Splits;
        for (int e = Grid.GlobalIndex.X; e < a.Tokens * a.Heads * dh; e += Grid.DimX * Group.DimX)
        {
            int d = e % dh;
            int th = e / dh;
            a.WriteOutput(th / a.Heads, th % a.Heads, d, OnlineSoftmax.MergeSplits(a.PartialMax, a.PartialSum, a.PartialAcc, th * splits, splits, dh, d));
        }
    }
}
