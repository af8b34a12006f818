using ILGPU;
using ILGPU.Runtime;

namespace Soma.Kernels;

/// <summary>bfloat16 elements held as their 16-bit patterns: widened by a shift (exact), narrowed to nearest even.</summary>
internal struct BFloat16View : IElementView
{
    /// <summary>The elements.</summary>
    public ArrayView<ushort> View;

    /// <inheritdoc/>
    public readonly float Load(int index) => StorageBits.FromBFloat16(View[index]);

    /// <inheritdoc/>
    public readonly Float4 LoadQuad(int quadIndex)
    {
        ulong bits = View.AsAligned(8).Cast<ulong>()[quadIndex];
        return new Float4
        {
            X = StorageBits.FromBFloat16((ushort)bits),
            Y = StorageBits.FromBFloat16((ushort)(bits >> 16)),
            Z = StorageBits.FromBFloat16((ushort)(bits >> 32)),
            W = StorageBits.FromBFloat16((ushort)(bits >> 48)),
        };
    }

    /// <inheritdoc/>
    public readonly void Store(int index, float value) => View[index] = StorageBits.ToBFloat16(value);
}
