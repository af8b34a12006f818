using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>Inputs and outputs of one near-field attention launch.</summary>
internal struct AttentionArgs
{
    /// <summary>Rotated queries q[n, H, dh].</summary>
    public ArrayView<float> Q;
    /// <summary>The chunk's rotated keys k[n, Hkv, dh].</summary>
    public ArrayView<float> K;
    /// <summary>The chunk's values v[n, Hkv, dh].</summary>
    public ArrayView<float> V;
    /// <summary>Ring keys [slots, W, Hkv, dh].</summary>
    public ArrayView<float> RingK;
    /// <summary>Ring values [slots, W, Hkv, dh].</summary>
    public ArrayView<float> RingV;
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
    /// <summary>Keys per tile (the score buffer's width).</summary>
    public int TileKeys;
    /// <summary>1: add alpha * S_prev (Soma); 0: near field only (the standard-attention baseline).</summary>
    public int FarField;
    /// <summary>
    /// Key splits per (row, head): 1 writes <see cref="Output"/> directly; more split each window into that many key
    /// ranges whose partial softmax states go to the partial buffers and are merged by the combine kernel
    /// (split-window decode: a single token's window spread over many groups).
    /// </summary>
    public int Splits;
    /// <summary>Partial running max per (row, head, split) when <see cref="Splits"/> &gt; 1.</summary>
    public ArrayView<float> PartialMax;
    /// <summary>Partial softmax denominator per (row, head, split).</summary>
    public ArrayView<float> PartialSum;
    /// <summary>Partial unnormalised value sums per (row, head, split, dim).</summary>
    public ArrayView<float> PartialAcc;
    /// <summary>
    /// 1: each tile's keys, then values, are staged in shared memory with coalesced loads (GPUs); 0: threads read
    /// them from device memory directly (the CPU accelerator, where the extra copy and barrier cost more).
    /// </summary>
    public int StageTiles;
    /// <summary>Query heads one group serves (at most H / Hkv; the host lowers it to fit shared memory).</summary>
    public int HeadsPerGroup;
    /// <summary>Softmax scale.</summary>
    public float Scale;
}

/// <summary>
/// Near-field attention over the ring buffer and the chunk's own keys, with a streaming (online) softmax: keys are
/// visited in tiles, scores live only in a tile-sized shared buffer, never a score matrix in device memory.
/// </summary>
/// <remarks>
/// For row t at absolute position P the window is [P - W + 1, P] (include-current) or [P - W, P - 1], clipped at 0.
/// A key at position q &gt;= p0 (the segment's first position) is read from the chunk; an earlier one from ring slot
/// q mod W, which still holds it because the ring keeps the last min(p0, W) tokens before the chunk.
/// One group serves one (row, kv-head) and up to H / Hkv of the query heads that read that kv-head, so each key and
/// value row is read once for all of them.
/// </remarks>
internal static class NearFieldAttention
{
    /// <summary>Dynamic shared memory (floats) for one group.</summary>
    public static int SharedFloats(int headsPerGroup, int headDim, int tileKeys, bool stageTiles) =>
        headsPerGroup * (2 * headDim + tileKeys + 3) + (stageTiles ? tileKeys * headDim : 0);

    // o[t, h] = sum_j softmax(scale q_h . k_j) v_j + alpha_h S_prev[t, g(h)] over the window of t;
    // launch: one group per (row, kv-head, head chunk, key split) grid-stride, threads over (head, key) (scores) then over (head, dim) (values).
    public static void Kernel(AttentionArgs a, SegmentArgs seg)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int groupSize = Group.DimX;
        int lane = Group.IdxX;
        int perKv = a.Heads / a.KvHeads;
        int hpg = a.HeadsPerGroup;
        int headChunks = (perKv + hpg - 1) / hpg;
        int dh = a.HeadDim;
        int kvWidth = a.KvHeads * dh;
        int tk = a.TileKeys;

        // Shared layout: q[hpg*dh] | acc[hpg*dh] | p[hpg*tk] | max[hpg] | sum[hpg] | corr[hpg] | k or v tile[tk*dh].
        int accBase = hpg * dh;
        int pBase = 2 * hpg * dh;
        int maxBase = pBase + hpg * tk;
        int sumBase = maxBase + hpg;
        int corrBase = sumBase + hpg;
        int tileBase = corrBase + hpg;

        for (int item = Grid.IdxX; item < a.Tokens * a.KvHeads * headChunks * a.Splits; item += Grid.DimX)
        {
            int split = item % a.Splits;
            int rest = item / a.Splits;
            int t = rest / (a.KvHeads * headChunks);
            int g = (rest / headChunks) % a.KvHeads;
            int h0 = g * perKv + (rest % headChunks) * hpg;
            int heads = XMath.Min(hpg, (g + 1) * perKv - h0);
            int width = heads * dh;
            int s = a.RowSegment[t];
            int slot = seg.Slot[s];
            long first = seg.Position[s];
            long pos = first + (t - seg.Start[s]);
            long hi = a.IncludeCurrent != 0 ? pos : pos - 1;
            long lo = hi - a.Window + 1;
            if (lo < 0)
            {
                lo = 0;
            }

            int count = hi >= lo ? (int)(hi - lo + 1) : 0;
            int perSplit = (count + a.Splits - 1) / a.Splits;
            int jBegin = XMath.Min(count, split * perSplit);
            int jEnd = XMath.Min(count, jBegin + perSplit);

            for (int e = lane; e < width; e += groupSize)
            {
                shared[e] = a.Q[(t * a.Heads + h0) * dh + e];
                shared[accBase + e] = 0f;
            }

            for (int r = lane; r < heads; r += groupSize)
            {
                shared[maxBase + r] = float.NegativeInfinity;
                shared[sumBase + r] = 0f;
            }

            Group.Barrier();

            for (int j0 = jBegin; j0 < jEnd; j0 += tk)
            {
                int chunk = XMath.Min(tk, jEnd - j0);

                bool staged = a.StageTiles != 0;
                if (staged)
                {
                    // Stage the tile's keys: consecutive threads read consecutive elements of a key row.
                    StageTile(shared, tileBase, a.K, a.RingK, lo + j0, chunk, first, seg.Start[s], slot, g, a);
                    Group.Barrier();
                }

                // Scores: one thread per (query head, key) of the tile.
                for (int e = lane; e < heads * chunk; e += groupSize)
                {
                    int r = e / chunk;
                    int jj = e % chunk;
                    long keyPos = lo + j0 + jj;
                    int offset = staged ? 0 : KeyOffset(keyPos, first, seg.Start[s], slot, g, a);
                    var keys = keyPos >= first ? a.K : a.RingK;
                    float dot = 0f;
                    for (int d = 0; d < dh; d++)
                    {
                        float k = staged ? shared[tileBase + jj * dh + d] : keys[offset + d];
                        dot += shared[r * dh + d] * k;
                    }

                    shared[pBase + r * tk + jj] = a.Scale * dot;
                }

                Group.Barrier();
                if (staged)
                {
                    // The values replace the keys in the tile buffer while the head threads do the softmax bookkeeping.
                    StageTile(shared, tileBase, a.V, a.RingV, lo + j0, chunk, first, seg.Start[s], slot, g, a);
                }

                // Online softmax bookkeeping: one thread per query head rescales its running max and sum.
                for (int r = lane; r < heads; r += groupSize)
                {
                    float oldMax = shared[maxBase + r];
                    float tileMax = oldMax;
                    for (int jj = 0; jj < chunk; jj++)
                    {
                        tileMax = XMath.Max(tileMax, shared[pBase + r * tk + jj]);
                    }

                    float correction = XMath.Exp(oldMax - tileMax);
                    float sum = 0f;
                    for (int jj = 0; jj < chunk; jj++)
                    {
                        float p = XMath.Exp(shared[pBase + r * tk + jj] - tileMax);
                        shared[pBase + r * tk + jj] = p;
                        sum += p;
                    }

                    shared[maxBase + r] = tileMax;
                    shared[sumBase + r] = shared[sumBase + r] * correction + sum;
                    shared[corrBase + r] = correction;
                }

                Group.Barrier();

                // Values: one thread per (query head, dim) accumulates the tile's weighted values.
                for (int e = lane; e < width; e += groupSize)
                {
                    int r = e / dh;
                    int d = e % dh;
                    float acc = shared[accBase + e] * shared[corrBase + r];
                    for (int jj = 0; jj < chunk; jj++)
                    {
                        float v;
                        if (staged)
                        {
                            v = shared[tileBase + jj * dh + d];
                        }
                        else
                        {
                            long keyPos = lo + j0 + jj;
                            var values = keyPos >= first ? a.V : a.RingV;
                            v = values[KeyOffset(keyPos, first, seg.Start[s], slot, g, a) + d];
                        }

                        acc += shared[pBase + r * tk + jj] * v;
                    }

                    shared[accBase + e] = acc;
                }

                Group.Barrier();
            }

            if (a.Splits > 1)
            {
                // Split-window: hand the partial softmax state to the combine kernel.
                for (int e = lane; e < width; e += groupSize)
                {
                    int p = (t * a.Heads + h0 + e / dh) * a.Splits + split;
                    a.PartialAcc[p * dh + e % dh] = shared[accBase + e];
                    if (e % dh == 0)
                    {
                        a.PartialMax[p] = shared[maxBase + e / dh];
                        a.PartialSum[p] = shared[sumBase + e / dh];
                    }
                }

                Group.Barrier();
                continue;
            }

            // Epilogue: normalise and add the far field read before this token's update.
            for (int e = lane; e < width; e += groupSize)
            {
                int r = e / dh;
                int d = e % dh;
                float sum = shared[sumBase + r];
                float near = sum > 0f ? shared[accBase + e] / sum : 0f;
                int h = h0 + r;
                float far = a.FarField != 0 ? a.Alpha[h] * a.FieldPrev[t * kvWidth + g * dh + d] : 0f;
                a.Output[(t * a.Heads + h) * dh + d] = near + far;
            }

            Group.Barrier();
        }
    }

    // o[t, h, d] = (sum_s e^(m_s - M) acc_s) / (sum_s e^(m_s - M) l_s) + alpha_h S_prev, M = max_s m_s;
    // launch: any explicit group shape, grid-stride over n * H * dh.
    public static void CombineKernel(AttentionArgs a)
    {
        int dh = a.HeadDim;
        int perKv = a.Heads / a.KvHeads;
        int kvWidth = a.KvHeads * dh;
        for (int e = Grid.GlobalIndex.X; e < a.Tokens * a.Heads * dh; e += Grid.DimX * Group.DimX)
        {
            int d = e % dh;
            int th = e / dh;
            int t = th / a.Heads;
            int h = th % a.Heads;
            float max = float.NegativeInfinity;
            for (int s = 0; s < a.Splits; s++)
            {
                max = XMath.Max(max, a.PartialMax[th * a.Splits + s]);
            }

            float sum = 0f;
            float acc = 0f;
            if (max > float.NegativeInfinity)
            {
                for (int s = 0; s < a.Splits; s++)
                {
                    int p = th * a.Splits + s;
                    float w = XMath.Exp(a.PartialMax[p] - max);
                    sum += w * a.PartialSum[p];
                    acc += w * a.PartialAcc[p * dh + d];
                }
            }

            float near = sum > 0f ? acc / sum : 0f;
            float far = a.FarField != 0 ? a.Alpha[h] * a.FieldPrev[t * kvWidth + (h / perKv) * dh + d] : 0f;
            a.Output[e] = near + far;
        }
    }

    /// <summary>
    /// tile[jj, d] = row of position p0 + jj (chunk buffer when p &gt;= first, else the slot's ring), for jj &lt; count;
    /// group-cooperative, one element per thread per step.
    /// </summary>
    private static void StageTile(
        ArrayView<float> shared, int tileBase, ArrayView<float> chunkRows, ArrayView<float> ringRows, long p0, int count,
        long first, int segStart, int slot, int g, AttentionArgs a)
    {
        int dh = a.HeadDim;
        for (int jj = 0; jj < count; jj++)
        {
            long keyPos = p0 + jj;
            int offset = KeyOffset(keyPos, first, segStart, slot, g, a);
            var rows = keyPos >= first ? chunkRows : ringRows;
            for (int d = Group.IdxX; d < dh; d += Group.DimX)
            {
                shared[tileBase + jj * dh + d] = rows[offset + d];
            }
        }
    }

    /// <summary>Offset of key/value row (position, kv-head g) in the chunk buffers or in the slot's ring.</summary>
    private static int KeyOffset(long keyPos, long first, int segStart, int slot, int g, AttentionArgs a)
    {
        if (keyPos >= first)
        {
            return ((segStart + (int)(keyPos - first)) * a.KvHeads + g) * a.HeadDim;
        }

        int ringSlot = (int)(keyPos % a.Window);
        return ((slot * a.Window + ringSlot) * a.KvHeads + g) * a.HeadDim;
    }
}
