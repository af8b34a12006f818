namespace Soma.Kernels;

/// <summary>How an attention launch tiles its work (the plan's choice; <see cref="NearFieldAttention"/>).</summary>
internal struct AttentionTiling
{
    /// <summary>Keys per tile (the score buffer's width).</summary>
    public int TileKeys;
    /// <summary>
    /// 1: each tile's keys, then values, are staged in shared memory with coalesced loads (GPUs); 0: threads read
    /// them from device memory directly (the CPU accelerator, where the extra copy and barrier cost more).
    /// </summary>
    public int StageTiles;
    /// <summary>Query heads one group serves (at most H / Hkv; the host lowers it to fit shared memory).</summary>
    public int HeadsPerGroup;
    /// <summary>
    /// Key splits per (row, head): 1 writes the output directly; more split each window into that many key ranges
    /// whose partial softmax states go to the partial buffers and are merged by <see cref="SoftmaxCombine"/>
    /// (split-window decode: a single token's window spread over many groups).
    /// </summary>
    public int Splits;

    /// <summary>Dynamic shared memory (floats) one group needs for heads of width <paramref name="headDim"/>.</summary>
    /// <param name="headDim">Head dimension dh.</param>
    public readonly int SharedFloats(int headDim) => NearFieldAttention.SharedFloats(HeadsPerGroup, headDim, TileKeys, StageTiles != 0);
}
