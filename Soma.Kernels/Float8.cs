namespace Soma.Kernels;

/// <summary>Eight consecutive elements widened to fp32 (<see cref="IElementView.LoadOctet"/>): elements 0..3 and 4..7.</summary>
internal struct Float8
{
    /// <summary>Elements 0..3.</summary>
    public Float4 Lo;
    /// <summary>Elements 4..7.</summary>
    public Float4 Hi;
}
