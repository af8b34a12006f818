using ILGPU;

namespace Soma.Kernels;

/// <summary>
/// Row gathers: the embedding lookup (rows of the embedding matrix by token id) and picking the rows of a batch whose
/// logits are wanted. The source may be stored transposed (column stride), so a tied LM head's [D, V] matrix serves
/// as the embedding too.
/// </summary>
internal static class RowGather
{
    // y[r, c] = table[index[r] * rowStride + c * colStride]; launch: any explicit group shape, grid-stride over rows * width.
    // The table is read through its element view (fp32, or 16-bit rows widened exactly); its length must stay below 2^31.
    public static void Kernel<TView>(TView table, ArrayView<int> index, ArrayView<float> y, int rows, int width, long rowStride, long colStride)
        where TView : struct, IElementView
    {
        for (int e = Grid.GlobalIndex.X; e < rows * width; e += Grid.DimX * Group.DimX)
        {
            int r = e / width;
            int c = e % width;
            y[e] = table.Load((int)(index[r] * rowStride + c * colStride));
        }
    }
}
