namespace Soma.Kernels;

/// <summary>
/// How a projection launch tiles its work: a tile is <see cref="Projection.TileRows"/> rows by
/// (group size x <see cref="ColumnsPerThread"/>) columns; the rows' inputs go through shared memory
/// <see cref="ChunkK"/> at a time. When ChunkK covers the whole input width the rows are staged once per tile and
/// each thread may own several columns (the CPU accelerator's shape: few barriers); otherwise each thread owns one
/// column and accumulates across chunks (GPUs, where shared memory is small). With <see cref="KSlices"/> &gt; 1
/// (decode: too few row tiles to fill a GPU) the input width is also split across groups, each writing partial sums
/// that a reduce kernel (<see cref="SplitKReduce"/>) adds up before the epilogue. With <see cref="RowTiles"/> &gt; 1 a
/// group covers several row tiles with the same columns (batched decode: each weight read once per pass).
/// </summary>
internal struct ProjectionTiling
{
    /// <summary>Input elements per row staged at a time.</summary>
    public int ChunkK;
    /// <summary>Columns each thread owns per tile (1 unless ChunkK covers the whole input width).</summary>
    public int ColumnsPerThread;
    /// <summary>Slices of the input width computed by separate groups (1: no split-K).</summary>
    public int KSlices;
    /// <summary>1: the decode GEMV (<see cref="Kernels.Gemv"/>: a warp per output column, no tiles, never split: ChunkK, ColumnsPerThread and KSlices are 1); 0: the tile loop.</summary>
    public int Gemv;

    /// <summary>
    /// 1: each chunk of K also stages the tile's weight rows and their partners in shared memory (GPUs: coalesced reads
    /// along K, stride ChunkK + 1); 0: each thread reads its own weight rows (the CPU accelerator, and whole staged rows).
    /// </summary>
    public int StageWeights;

    /// <summary>
    /// Row tiles a group covers at once (0 or 1: one). Its threads split into that many sets of group size /
    /// RowTiles threads, set s on the block's row tile s, all sets sharing each staged chunk of the same columns'
    /// weights: a pass of at most <see cref="BlockRows"/> rows reads every weight from device memory once (batched decode).
    /// </summary>
    public int RowTiles;

    /// <summary>Rows a group's work item covers: <see cref="Projection.TileRows"/> x <see cref="RowTiles"/> (at least one tile).</summary>
    public readonly int BlockRows => Projection.TileRows * System.Math.Max(1, RowTiles);

    /// <summary>Dynamic shared memory (floats) a launch with this tiling needs at <paramref name="groupSize"/> threads a group (none for the GEMV).</summary>
    /// <param name="groupSize">Threads per group.</param>
    public readonly int SharedFloats(int groupSize) =>
        Gemv != 0 ? 0 : BlockRows * ChunkK + (StageWeights != 0 ? 2 * (groupSize / System.Math.Max(1, RowTiles)) * (ChunkK + 1) : 0);

    /// <summary>
    /// How many times the launch reads each weight from device memory in a pass of <paramref name="rows"/> rows: once
    /// per block of <see cref="BlockRows"/> rows for the tile loop, once for the GEMV.
    /// </summary>
    /// <param name="rows">The pass's rows.</param>
    public readonly long WeightReads(long rows) => Gemv != 0 ? 1 : System.Math.Max(1, (rows + BlockRows - 1) / BlockRows);
}
