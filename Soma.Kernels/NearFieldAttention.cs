using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// Near-field attention over the ring buffer and the chunk's own keys, with a streaming (online) softmax
/// (<see cref="OnlineSoftmax"/>): keys are visited in tiles, scores live only in a tile-sized shared buffer, never a
/// score matrix in device memory.
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
    /// <summary>
    /// Dynamic shared memory (floats) for one group; a staged tile's rows are padded to <see cref="TileStride"/> so
    /// that the score loop's threads (one key each, reading the same dimension) hit 32 different banks.
    /// </summary>
    public static int SharedFloats(int headsPerGroup, int headDim, int tileKeys, bool stageTiles) =>
        headsPerGroup * (2 * headDim + tileKeys + 3) + (stageTiles ? tileKeys * TileStride(headDim) : 0);

    /// <summary>Floats between consecutive key rows of a staged tile: dh + 1 (an odd stride: no bank conflicts).</summary>
    public static int TileStride(int headDim) => headDim + 1;

    // o[t, h] = sum_j softmax(scale q_h . k_j) v_j + alpha_h S_prev[t, g(h)] over the window of t;
    // launch: one group per (row, kv-head, head chunk, key split) grid-stride, threads over (head, key) (scores) then over (head, dim) (values).
    public static void Kernel<TRing>(AttentionArgs a, AttentionTiling tiling, SegmentArgs seg, StoredKeyValues<TRing> kv)
        where TRing : struct, IElementView
    {
        var shared = SharedMemory.GetDynamic<float>();
        int groupSize = Group.DimX;
        int lane = Group.IdxX;
        int perKv = a.Heads / a.KvHeads;
        int hpg = tiling.HeadsPerGroup;
        int splits = tiling.Splits;
        int headChunks = (perKv + hpg - 1) / hpg;
        int dh = a.HeadDim;
        int tk = tiling.TileKeys;
        bool staged = tiling.StageTiles != 0;
        int stride = TileStride(dh);

        // Shared layout: q[hpg*dh] | acc[hpg*dh] | p[hpg*tk] | max[hpg] | sum[hpg] | corr[hpg] | k or v tile[tk*(dh+1)].
        int accBase = hpg * dh;
        int pBase = 2 * hpg * dh;
        int maxBase = pBase + hpg * tk;
        int sumBase = maxBase + hpg;
        int corrBase = sumBase + hpg;
        int tileBase = corrBase + hpg;

        for (int item = Grid.IdxX; item < a.Tokens * a.KvHeads * headChunks * splits; item += Grid.DimX)
        {
            int split = item % splits;
            int rest = item / splits;
            int t = rest / (a.KvHeads * headChunks);
            int g = (rest / headChunks) % a.KvHeads;
            int h0 = g * perKv + (rest % headChunks) * hpg;
            int heads = XMath.Min(hpg, (g + 1) * perKv - h0);
            int width = heads * dh;
            int s = a.RowSegment[t];
            var rows = new KeyRows(a, seg, s, g);
            long pos = rows.First + (t - rows.Start);
            long hi = a.IncludeCurrent != 0 ? pos : pos - 1;
            long lo = hi - a.Window + 1;
            if (lo < 0)
            {
                lo = 0;
            }

            int count = hi >= lo ? (int)(hi - lo + 1) : 0;
            int perSplit = (count + splits - 1) / splits;
            int jBegin = XMath.Min(count, split * perSplit);
            int jEnd = XMath.Min(count, jBegin + perSplit);

            for (int e = lane; e < width; e += groupSize)
            {
                shared[e] = a.Q[(t * a.Heads + h0) * dh + e];
                shared[accBase + e] = 0f;
            }

            for (int r = lane; r < heads; r += groupSize)
            {
                shared[maxBase + r] = OnlineSoftmax.Empty.Max;
                shared[sumBase + r] = OnlineSoftmax.Empty.Sum;
            }

            Group.Barrier();

            for (int j0 = jBegin; j0 < jEnd; j0 += tk)
            {
                int chunk = XMath.Min(tk, jEnd - j0);
                if (staged)
                {
                    // Stage the tile's keys: consecutive threads read consecutive elements of a key row.
                    StageTile(shared, tileBase, stride, rows, kv.K, kv.RingK, lo + j0, chunk);
                    Group.Barrier();
                }

                // Scores: one thread per (query head, key) of the tile.
                for (int e = lane; e < heads * chunk; e += groupSize)
                {
                    int r = e / chunk;
                    int jj = e % chunk;
                    long keyPos = lo + j0 + jj;
                    int offset = staged ? 0 : rows.Offset(keyPos);
                    float dot = 0f;
                    for (int d = 0; d < dh; d++)
                    {
                        float k = staged ? shared[tileBase + jj * stride + d] : rows.Read(kv.K, kv.RingK, keyPos, offset + d);
                        dot += shared[r * dh + d] * k;
                    }

                    shared[pBase + r * tk + jj] = a.Scale * dot;
                }

                Group.Barrier();
                if (staged)
                {
                    // The values replace the keys in the tile buffer while the head threads do the softmax bookkeeping.
                    StageTile(shared, tileBase, stride, rows, kv.V, kv.RingV, lo + j0, chunk);
                }

                // Online softmax: one thread per query head moves its state to the tile's max and adds the tile's weights.
                for (int r = lane; r < heads; r += groupSize)
                {
                    var state = new OnlineSoftmax(shared[maxBase + r], shared[sumBase + r]);
                    var raised = state;
                    for (int jj = 0; jj < chunk; jj++)
                    {
                        raised.Observe(shared[pBase + r * tk + jj]);
                    }

                    shared[corrBase + r] = state.Rescale(raised.Max);
                    float sum = 0f;
                    for (int jj = 0; jj < chunk; jj++)
                    {
                        float p = state.Weight(shared[pBase + r * tk + jj]);
                        shared[pBase + r * tk + jj] = p;
                        sum += p;
                    }

                    shared[maxBase + r] = state.Max;
                    shared[sumBase + r] = state.Sum + sum;
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
                        long keyPos = lo + j0 + jj;
                        float v = staged ? shared[tileBase + jj * stride + d] : rows.Read(kv.V, kv.RingV, keyPos, rows.Offset(keyPos) + d);
                        acc += shared[pBase + r * tk + jj] * v;
                    }

                    shared[accBase + e] = acc;
                }

                Group.Barrier();
            }

            for (int e = lane; e < width; e += groupSize)
            {
                int r = e / dh;
                int d = e % dh;
                if (splits > 1)
                {
                    // Split-window: hand the partial softmax state to the combine kernel.
                    int p = (t * a.Heads + h0 + r) * splits + split;
                    a.PartialAcc[p * dh + d] = shared[accBase + e];
                    if (d == 0)
                    {
                        a.PartialMax[p] = shared[maxBase + r];
                        a.PartialSum[p] = shared[sumBase + r];
                    }
                }
                else
                {
                    // Epilogue: normalise and add the far field read before this token's update.
                    var state = new OnlineSoftmax(shared[maxBase + r], shared[sumBase + r]);
                    a.WriteOutput(t, h0 + r, d, state.Normalize(shared[accBase + e]));
                }
            }

            Group.Barrier();
        }
    }

    /// <summary>
    /// tile[jj * stride + d] = row of position p0 + jj (chunk rows when p &gt;= first, else the slot's ring), for
    /// jj &lt; count; group-cooperative, one element per thread per step.
    /// </summary>
    private static void StageTile<TRing>(
        ArrayView<float> shared, int tileBase, int stride, KeyRows rows, TRing chunkRows, TRing ringRows, long p0, int count)
        where TRing : struct, IElementView
    {
        int dh = rows.HeadDim;
        for (int jj = 0; jj < count; jj++)
        {
            long keyPos = p0 + jj;
            int offset = rows.Offset(keyPos);
            for (int d = Group.IdxX; d < dh; d += Group.DimX)
            {
                shared[tileBase + jj * stride + d] = rows.Read(chunkRows, ringRows, keyPos, offset + d);
            }
        }
    }
}
