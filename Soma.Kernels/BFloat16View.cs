using ILGPU;

namespace Soma.Kernels;

/// <summary>bfloat16 elements held as their 16-bit patterns: widened by a shift (exact), narrowed to nearest even.</summary>
internal struct BFloat16View : IElementView
{
    /// <summary>The elements.</summary>
    public ArrayView<ushort> View;

    /// <inheritdoc/>
    public readonly float Load(int index) => StorageBits.FromBFloat16(View[index]);

    /// <inheritdoc/>
    public readonly void Store(int index, float value) => View[index] = StorageBits.ToBFloat16(value);
}
