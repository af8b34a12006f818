namespace Soma.Kernels;

/// <summary>
/// How a projection launch tiles its work: a tile is <see cref="Projection.TileRows"/> rows by
/// (group size x <see cref="ColumnsPerThread"/>) columns; the rows' inputs go through shared memory
/// <see cref="ChunkK"/> at a time. When ChunkK covers the whole input width the rows are staged once per tile and
/// each thread may own several columns (the CPU accelerator's shape: few barriers); otherwise each thread owns one
/// column and accumulates across chunks (GPUs, where shared memory is small). With <see cref="KSlices"/> &gt; 1
/// (decode: too few row tiles to fill a GPU) the input width is also split across groups, each writing partial sums
/// that a reduce kernel (<see cref="SplitKReduce"/>) adds up before the epilogue.
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

    /// <summary>Dynamic shared memory (floats) a launch with this tiling needs (none for the GEMV).</summary>
    public readonly int SharedFloats => Gemv != 0 ? 0 : Projection.TileRows * ChunkK;
}
