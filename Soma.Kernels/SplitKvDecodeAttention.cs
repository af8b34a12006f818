using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// Split-KV decode attention (FlashDecoding style) for passes whose rows each attend to keys of their own session
/// only: one group per (row, kv-head, key split) serving all H / Hkv query heads of the kv-head, so each key and value
/// row is read once for all of them; the splits' partial softmax states are merged in the same launch by the last
/// group of a (row, kv-head) to finish (a last-block-done counter), not by a second launch.
/// </summary>
/// <remarks>
/// Each warp takes key rows of a tile (a warp per key row): lane l reads quads l, l + warp, ... of the row through
/// <see cref="IElementView.LoadQuad"/> (128-bit loads of fp32 rows, 64-bit of 16-bit ones), the scores of every
/// query head come from that one read, reduced by warp shuffles. Per tile one warp per head moves the head's
/// <see cref="OnlineSoftmax"/> state (warp-shuffle max and sum over the tile's scores), then every warp adds its
/// keys' weighted values into its own accumulators; the warps' accumulators are summed once per split. Needs
/// dh % 4 == 0 and a power-of-two warp size (the plan routes other head widths to <see cref="NearFieldAttention"/>).
/// The counter of a (row, kv-head) is back to 0 after every launch: the last group resets it after merging.
/// </remarks>
internal static class SplitKvDecodeAttention
{
    /// <summary>Dynamic shared memory (floats) one group needs: q, scores, softmax state per head, a flag and each warp's accumulators.</summary>
    /// <param name="heads">Query heads per kv-head (H / Hkv).</param>
    /// <param name="headDim">Head dimension dh.</param>
    /// <param name="tileKeys">Keys per tile.</param>
    /// <param name="warps">Warps per group.</param>
    public static int SharedFloats(int heads, int headDim, int tileKeys, int warps) =>
        heads * (headDim + tileKeys + 3) + 1 + warps * heads * headDim;

    // o[t, h] = sum_j softmax(scale q_h . k_j) v_j + alpha_h S_prev[t, g(h)] over the window of t, all h of kv-head g;
    // launch: one group per (row, kv-head, key split) grid-stride; warps over the keys of a tile, lanes over a row's quads.
    public static void Kernel<TRing>(AttentionArgs a, AttentionTiling tiling, SegmentArgs seg, StoredKeyValues<TRing> kv)
        where TRing : struct, IElementView
    {
        var shared = SharedMemory.GetDynamic<float>();
        int ws = Warp.WarpSize;
        int warps = XMath.Max(1, Group.DimX / ws);
        int warp = Group.IdxX / ws;
        int lane = Group.IdxX % ws;
        bool active = warp < warps;
        int heads = a.Heads / a.KvHeads;
        int splits = tiling.Splits;
        int dh = a.HeadDim;
        int quads = dh / 4;
        int tk = tiling.TileKeys;

        // Shared layout: q[heads*dh] | p[heads*tk] | max[heads] | sum[heads] | corr[heads] | flag | acc[warps][heads*dh].
        int pBase = heads * dh;
        int maxBase = pBase + heads * tk;
        int sumBase = maxBase + heads;
        int corrBase = sumBase + heads;
        int flag = corrBase + heads;
        int accBase = flag + 1;
        int myAcc = accBase + warp * heads * dh;

        for (int item = Grid.IdxX; item < a.Tokens * a.KvHeads * splits; item += Grid.DimX)
        {
            int split = item % splits;
            int t = item / splits / a.KvHeads;
            int g = item / splits % a.KvHeads;
            int h0 = g * heads;
            var rows = new KeyRows(a, seg, a.RowSegment[t], g);
            long pos = rows.First + (t - rows.Start);
            long hi = a.IncludeCurrent != 0 ? pos : pos - 1;
            long lo = hi - a.Window + 1 < 0 ? 0 : hi - a.Window + 1;
            int count = hi >= lo ? (int)(hi - lo + 1) : 0;
            int perSplit = (count + splits - 1) / splits;
            int jBegin = XMath.Min(count, split * perSplit);
            int jEnd = XMath.Min(count, jBegin + perSplit);

            for (int e = Group.IdxX; e < heads * dh; e += Group.DimX)
            {
                shared[e] = a.Q[(t * a.Heads + h0) * dh + e];
            }

            for (int e = Group.IdxX; e < warps * heads * dh; e += Group.DimX)
            {
                shared[accBase + e] = 0f;
            }

            for (int r = Group.IdxX; r < heads; r += Group.DimX)
            {
                shared[maxBase + r] = OnlineSoftmax.Empty.Max;
                shared[sumBase + r] = OnlineSoftmax.Empty.Sum;
            }

            Group.Barrier();
            for (int j0 = jBegin; j0 < jEnd; j0 += tk)
            {
                int chunk = XMath.Min(tk, jEnd - j0);

                // Scores: a warp per key row, its quads read once for every head, one warp-shuffle sum per (key, head).
                for (int jj = warp; active && jj < chunk; jj += warps)
                {
                    long keyPos = lo + j0 + jj;
                    int row = rows.Offset(keyPos) / 4;
                    var k = lane < quads ? rows.ReadQuad(kv.K, kv.RingK, keyPos, row + lane) : default;
                    for (int r = 0; r < heads; r++)
                    {
                        float dot = lane < quads ? Dot(shared, r * dh, lane, k) : 0f;
                        for (int c = lane + ws; c < quads; c += ws)
                        {
                            dot += Dot(shared, r * dh, c, rows.ReadQuad(kv.K, kv.RingK, keyPos, row + c));
                        }

                        dot = WarpReduce.Sum(dot);
                        if (lane == 0)
                        {
                            shared[pBase + r * tk + jj] = a.Scale * dot;
                        }
                    }
                }

                Group.Barrier();

                // Online softmax: a warp per head, lanes over the tile's keys (warp-shuffle max and sum).
                for (int r = warp; active && r < heads; r += warps)
                {
                    float tileMax = float.NegativeInfinity;
                    for (int jj = lane; jj < chunk; jj += ws)
                    {
                        tileMax = XMath.Max(tileMax, shared[pBase + r * tk + jj]);
                    }

                    var state = new OnlineSoftmax(shared[maxBase + r], shared[sumBase + r]);
                    float correction = state.Rescale(XMath.Max(state.Max, WarpReduce.Max(tileMax)));
                    float sum = 0f;
                    for (int jj = lane; jj < chunk; jj += ws)
                    {
                        float p = state.Weight(shared[pBase + r * tk + jj]);
                        shared[pBase + r * tk + jj] = p;
                        sum += p;
                    }

                    sum = WarpReduce.Sum(sum);
                    if (lane == 0)
                    {
                        shared[maxBase + r] = state.Max;
                        shared[sumBase + r] = state.Sum + sum;
                        shared[corrBase + r] = correction;
                    }
                }

                Group.Barrier();

                // Values: each lane rescales its own accumulator quads, then a warp per value row adds it to every head.
                for (int r = 0; active && r < heads; r++)
                {
                    for (int c = lane; c < quads; c += ws)
                    {
                        Scale(shared, myAcc + r * dh + 4 * c, shared[corrBase + r]);
                    }
                }

                for (int jj = warp; active && jj < chunk; jj += warps)
                {
                    long keyPos = lo + j0 + jj;
                    int row = rows.Offset(keyPos) / 4;
                    var v = lane < quads ? rows.ReadQuad(kv.V, kv.RingV, keyPos, row + lane) : default;
                    for (int r = 0; r < heads; r++)
                    {
                        float p = shared[pBase + r * tk + jj];
                        if (lane < quads)
                        {
                            Accumulate(shared, myAcc + r * dh + 4 * lane, p, v);
                        }

                        for (int c = lane + ws; c < quads; c += ws)
                        {
                            Accumulate(shared, myAcc + r * dh + 4 * c, p, rows.ReadQuad(kv.V, kv.RingV, keyPos, row + c));
                        }
                    }
                }

                Group.Barrier();
            }

            // The warps' accumulators summed; unsplit: the output; split: the partial state, and the last split merges.
            for (int e = Group.IdxX; e < heads * dh; e += Group.DimX)
            {
                int r = e / dh;
                float acc = 0f;
                for (int w = 0; w < warps; w++)
                {
                    acc += shared[accBase + w * heads * dh + e];
                }

                if (splits == 1)
                {
                    var state = new OnlineSoftmax(shared[maxBase + r], shared[sumBase + r]);
                    a.WriteOutput(t, h0 + r, e % dh, state.Normalize(acc));
                }
                else
                {
                    int p = (t * a.Heads + h0 + r) * splits + split;
                    a.PartialAcc[p * dh + e % dh] = acc;
                    if (e % dh == 0)
                    {
                        a.PartialMax[p] = shared[maxBase + r];
                        a.PartialSum[p] = shared[sumBase + r];
                    }
                }
            }

            if (splits > 1)
            {
                MergeIfLast(a, shared, flag, t, g, splits);
            }

            Group.Barrier();
        }
    }

    /// <summary>
    /// Last-block-done: after a device fence the group counts its split in; the group that brings the count of
    /// (t, g) to <paramref name="splits"/> merges every split's state of the kv-head's heads, writes the output and
    /// resets the count to 0.
    /// </summary>
    private static void MergeIfLast(AttentionArgs a, ArrayView<float> shared, int flag, int t, int g, int splits)
    {
        // Every thread's partial writes are made visible device-wide before the group counts itself in.
        MemoryFence.DeviceLevel();
        Group.Barrier();
        if (Group.IsFirstThread)
        {
            MemoryFence.DeviceLevel();
            int arrived = Atomic.Add(ref a.Arrivals[t * a.KvHeads + g], 1);
            shared[flag] = arrived == splits - 1 ? 1f : 0f;
        }

        Group.Barrier();
        if (shared[flag] == 0f)
        {
            return;
        }

        MemoryFence.DeviceLevel();
        int heads = a.Heads / a.KvHeads;
        int dh = a.HeadDim;
        for (int e = Group.IdxX; e < heads * dh; e += Group.DimX)
        {
            int th = t * a.Heads + g * heads + e / dh;
            a.WriteOutput(t, th % a.Heads, e % dh, OnlineSoftmax.MergeSplits(a.PartialMax, a.PartialSum, a.PartialAcc, th * splits, splits, dh, e % dh));
        }

        if (Group.IsFirstThread)
        {
            a.Arrivals[t * a.KvHeads + g] = 0;
        }
    }

    /// <summary>q[qBase + 4c .. + 3] . k from shared memory.</summary>
    private static float Dot(ArrayView<float> shared, int qBase, int c, Float4 k)
    {
        int i = qBase + 4 * c;
        return shared[i] * k.X + shared[i + 1] * k.Y + shared[i + 2] * k.Z + shared[i + 3] * k.W;
    }

    /// <summary>shared[i .. i + 3] *= <paramref name="factor"/>.</summary>
    private static void Scale(ArrayView<float> shared, int i, float factor)
    {
        shared[i] *= factor;
        shared[i + 1] *= factor;
        shared[i + 2] *= factor;
        shared[i + 3] *= factor;
    }

    /// <summary>shared[i .. i + 3] += <paramref name="p"/> * <paramref name="v"/>.</summary>
    private static void Accumulate(ArrayView<float> shared, int i, float p, Float4 v)
    {
        shared[i] += p * v.X;
        shared[i + 1] += p * v.Y;
        shared[i + 2] += p * v.Z;
        shared[i + 3] += p * v.W;
    }
}
