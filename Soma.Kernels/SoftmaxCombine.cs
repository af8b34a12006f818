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
            var state = OnlineSoftmax.Empty;
            for (int s = 0; s < splits; s++)
            {
                state.Observe(a.PartialMax[th * splits + s]);
            }

            float acc = 0f;
            if (state.Max > float.NegativeInfinity)
            {
                for (int s = 0; s < splits; s++)
                {
                    int p = th * splits + s;
                    acc += state.Merge(new OnlineSoftmax(a.PartialMax[p], a.PartialSum[p])) * a.PartialAcc[p * dh + d];
                }
            }

            a.WriteOutput(th / a.Heads, th % a.Heads, d, state.Normalize(acc));
        }
    }
}
