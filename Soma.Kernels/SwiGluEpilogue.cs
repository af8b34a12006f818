using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// The fused gate|up epilogue of a SwiGLU MLP: the projection's weight holds gate columns 0..I-1 then up columns
/// I..2I-1, the thread of gate column i also computes its up partner I + i, and writes
/// act[t, i] = silu(gate) * up, silu(g) = g / (1 + e^-g). Up columns stay idle. Output width of the projection: 2I.
/// </summary>
internal struct SwiGluEpilogue : IProjectionEpilogue
{
    /// <summary>Output act[n, I].</summary>
    public ArrayView<float> Act;
    /// <summary>MLP width I (half the projection's output width).</summary>
    public int Inner;

    /// <inheritdoc/>
    public readonly ProjectionColumn Column(int col, int outer) =>
        new() { Col = col, Partner = col + Inner, Active = col < Inner, Paired = true };

    /// <inheritdoc/>
    public readonly void Write(ProjectionColumn column, int row, float sum, float partnerSum) =>
        Act[row * Inner + column.Col] = sum / (1f + XMath.Exp(-sum)) * partnerSum;
}
