using ILGPU;
using ILGPU.Runtime;

namespace Soma.Kernels;

/// <summary>
/// The projections' reads of a weight W^T[K, M]: one element (<see cref="Projection"/>) or four consecutive columns
/// in one 128-bit load (<see cref="Gemv"/>). The one place a weight storage type other than fp32 is widened.
/// </summary>
internal static class ProjectionWeights
{
    /// <summary>WT[index].</summary>
    /// <param name="weightT">The weight.</param>
    /// <param name="index">Element index k * M + c.</param>
    public static float Read(ArrayView<float> weightT, int index) => weightT[index];

    /// <summary>WT[k, 4q .. 4q + 3] as one 128-bit load (M must be a multiple of 4; the view is 16-byte aligned).</summary>
    /// <param name="weightT">The weight.</param>
    /// <param name="quadIndex">Quad index k * M / 4 + q.</param>
    public static Float4 ReadQuad(ArrayView<float> weightT, int quadIndex) => weightT.AsAligned16().Cast<Float4>()[quadIndex];
}
