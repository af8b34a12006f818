using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// Where grid-stride work item <c>item</c> of a projection falls: its block of rows (<see cref="ProjectionTiling.BlockRows"/>),
/// the calling thread's row tile and first column, its K slice and that slice's input range. The group's threads
/// split into <see cref="ProjectionTiling.RowTiles"/> sets of <see cref="Lanes"/> threads, set s on row tile s of the
/// block. Items run slice-fastest, then column tiles, then row blocks.
/// </summary>
internal struct TilePosition
{
    /// <summary>First row of the block (the rows the group stages).</summary>
    public int Block0;
    /// <summary>First row of the calling thread's row tile.</summary>
    public int Row0;
    /// <summary>Offset of the calling thread's row tile among the block's staged rows (its set x <see cref="Projection.TileRows"/>).</summary>
    public int TileRow;
    /// <summary>Threads of a set: the group's columns per tile (x columns per thread).</summary>
    public int Lanes;
    /// <summary>First column of the tile.</summary>
    public int ColTile;
    /// <summary>This thread's first column of the tile.</summary>
    public int ColBase;
    /// <summary>The item's K slice.</summary>
    public int Slice;
    /// <summary>First input element of the slice.</summary>
    public int KBegin;
    /// <summary>End (exclusive) of the slice's input range.</summary>
    public int KEnd;

    /// <summary>Work items of a projection: row blocks x column tiles x K slices.</summary>
    public static int Count(int rows, int outer, ProjectionTiling tiling)
    {
        int tileCols = Group.DimX / XMath.Max(1, tiling.RowTiles) * tiling.ColumnsPerThread;
        int blockRows = tiling.BlockRows;
        return ((rows + blockRows - 1) / blockRows) * ((outer + tileCols - 1) / tileCols) * tiling.KSlices;
    }

    /// <summary>Where work item <paramref name="item"/> falls, for the calling thread.</summary>
    public static TilePosition Of(int item, int outer, int inner, ProjectionTiling tiling)
    {
        var at = default(TilePosition);
        at.Lanes = Group.DimX / XMath.Max(1, tiling.RowTiles);
        int tileCols = at.Lanes * tiling.ColumnsPerThread;
        int colTiles = (outer + tileCols - 1) / tileCols;
        int sliceLength = (inner + tiling.KSlices - 1) / tiling.KSlices;
        int tile = item / tiling.KSlices;
        at.Slice = item % tiling.KSlices;
        at.Block0 = (tile / colTiles) * tiling.BlockRows;
        at.TileRow = (Group.IdxX / at.Lanes) * Projection.TileRows;
        at.Row0 = at.Block0 + at.TileRow;
        at.ColTile = (tile % colTiles) * tileCols;
        at.ColBase = at.ColTile + Group.IdxX % at.Lanes;
        at.KBegin = at.Slice * sliceLength;
        at.KEnd = XMath.Min(inner, at.KBegin + sliceLength);
        return at;
    }
}
