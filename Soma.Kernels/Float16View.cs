using ILGPU;
using ILGPU.Runtime;

namespace Soma.Kernels;

/// <summary>IEEE fp16 elements held as their 16-bit patterns (see <see cref="StorageBits"/>: the kernels' own conversion, identical on every accelerator).</summary>
internal struct Float16View : IElementView
{
    /// <summary>The elements.</summary>
    public ArrayView<ushort> View;

    /// <inheritdoc/>
    public readonly float Load(int index) => StorageBits.FromHalf(View[index]);

    /// <inheritdoc/>
    public readonly Float4 LoadQuad(int quadIndex)
    {
        ulong bits = View.AsAligned(8).Cast<ulong>()[quadIndex];
        return new Float4
        {
            X = StorageBits.FromHalf((ushort)bits),
            Y = StorageBits.FromHalf((ushort)(bits >> 16)),
            Z = StorageBits.FromHalf((ushort)(bits >> 32)),
            W = StorageBits.FromHalf((ushort)(bits >> 48)),
        };
    }

    /// <inheritdoc/>
    public readonly void Store(int index, float value) => View[index] = StorageBits.ToHalf(value);
}
