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
        return Widen((uint)bits, (uint)(bits >> 32));
    }

    /// <inheritdoc/>
    public readonly Float8 LoadOctet(int octetIndex)
    {
        var bits = View.AsAligned(16).Cast<UInt4>()[octetIndex];
        return new Float8 { Lo = Widen(bits.X, bits.Y), Hi = Widen(bits.Z, bits.W) };
    }

    /// <inheritdoc/>
    public readonly void Store(int index, float value) => View[index] = StorageBits.ToBFloat16(value);

    /// <summary>The four elements packed two to a word in <paramref name="low"/> and <paramref name="high"/>, widened (exact).</summary>
    private static Float4 Widen(uint low, uint high) => new()
    {
        X = StorageBits.FromBFloat16((ushort)low),
        Y = StorageBits.FromBFloat16((ushort)(low >> 16)),
        Z = StorageBits.FromBFloat16((ushort)high),
        W = StorageBits.FromBFloat16((ushort)(high >> 16)),
    };
}
