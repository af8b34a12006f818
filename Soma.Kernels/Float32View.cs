using ILGPU;
using ILGPU.Runtime;

namespace Soma.Kernels;

/// <summary>IEEE fp32 elements, read and written as they are.</summary>
internal struct Float32View : IElementView
{
    /// <summary>The elements.</summary>
    public ArrayView<float> View;

    /// <inheritdoc/>
    public readonly float Load(int index) => View[index];

    /// <inheritdoc/>
    public readonly Float4 LoadQuad(int quadIndex) => View.AsAligned16().Cast<Float4>()[quadIndex];

    /// <inheritdoc/>
    public readonly Float8 LoadOctet(int octetIndex)
    {
        var quads = View.AsAligned16().Cast<Float4>();
        return new Float8 { Lo = quads[2 * octetIndex], Hi = quads[2 * octetIndex + 1] };
    }

    /// <inheritdoc/>
    public readonly void Store(int index, float value) => View[index] = value;
}
