using ILGPU;

namespace Soma.Kernels;

/// <summary>The residual epilogue of a projection without bias: h[t, c] += sum (the MLP's down projection).</summary>
internal struct ResidualEpilogue : IProjectionEpilogue
{
    /// <summary>The residual stream h[n, M], updated in place (never the projection's input).</summary>
    public ArrayView<float> H;
    /// <summary>Output width M.</summary>
    public int Outer;

    /// <inheritdoc/>
    public readonly ProjectionColumn Column(int col, int outer) => ProjectionColumn.Single(col, outer);

    /// <inheritdoc/>
    public readonly void Write(ProjectionColumn column, int row, float sum, float partnerSum) =>
        H[row * Outer + column.Col] += sum;
}
