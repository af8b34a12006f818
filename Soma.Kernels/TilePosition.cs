using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// Where grid-stride work item <c>item</c> of a projection falls: its first row, this thread's first column,
/// its K slice and that slice's input range. Items run slice-fastest, then column tiles, then row tiles.
/// </summary>
internal struct TilePosition
{
    /// <summary>First row of the tile.</summary>
    public int Row0;
    /// <summary>This thread's first column of the tile.</summary>
    public int ColBase;
    /// <summary>The item's K slice.</summary>
    public int Slice;
    /// <summary>First input element of the slice.</summary>
    public int KBegin;
    /// <summary>End (exclusive) of the slice's input range.</summary>
    public int KEnd;

    /// <summary>Work items of a projection: row tiles x column tiles x K slices.</summary>
    public static int Count(int rows, int outer, ProjectionTiling tiling)
    {
        int tileCols = Group.DimX * tiling.ColumnsPerThread;
        return ((rows + Projection.TileRows - 1) / Projection.TileRows) * ((outer + tileCols - 1) / tileCols) * tiling.KSlices;
    }

    /// <summary>Where work item <paramref name="item"/> falls, for the calling thread.</summary>
    public static TilePosition Of(int item, int outer, int inner, ProjectionTiling tiling)
    {
        int tileCols = Group.DimX * tiling.ColumnsPerThread;
        int colTiles = (outer + tileCols - 1) / tileCols;
        int sliceLength = (inner + tiling.KSlices - 1) / tiling.KSlices;
        int tile = item / tiling.KSlices;
        var at = default(TilePosition);
        at.Slice = item % tiling.KSlices;
        at.Row0 = (tile / colTiles) * Projection.TileRows;
        at.ColBase = (tile % colTiles) * tileCols + Group.IdxX;
        at.KBegin = at.Slice * sliceLength;
        at.KEnd = XMath.Min(inner, at.KBegin + sliceLength);
        return at;
    }
}
