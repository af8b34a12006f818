using ILGPU;

namespace Soma.Kernels;

/// <summary>The plain linear epilogue: y[t, c] = sum + b[c] (the output projection).</summary>
internal struct BiasEpilogue : IProjectionEpilogue
{
    /// <summary>Bias b[M] (zeros when the layer has none).</summary>
    public ArrayView<float> Bias;
    /// <summary>Output y[n, M].</summary>
    public ArrayView<float> Y;
    /// <summary>Output width M.</summary>
    public int Outer;

    /// <inheritdoc/>
    public readonly ProjectionColumn Column(int col, int outer) => ProjectionColumn.Single(col, outer);

    /// <inheritdoc/>
    public readonly void Write(ProjectionColumn column, int row, float sum, float partnerSum) =>
        Y[row * Outer + column.Col] = sum + Bias[column.Col];
}
