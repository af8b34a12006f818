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
        return Widen((uint)bits, (uint)(bits >> 32));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Widened by one multiply (<see cref="Finite"/>): exact for every finite element, subnormals included, which the
    /// weights the decode GEMV reads always are (checked at upload); an infinity or NaN would come out finite.
    /// </remarks>
    public readonly Float8 LoadOctet(int octetIndex)
    {
        var bits = View.AsAligned(16).Cast<UInt4>()[octetIndex];
        return new Float8
        {
            Lo = new Float4 { X = Finite(bits.X), Y = Finite(bits.X >> 16), Z = Finite(bits.Y), W = Finite(bits.Y >> 16) },
            Hi = new Float4 { X = Finite(bits.Z), Y = Finite(bits.Z >> 16), Z = Finite(bits.W), W = Finite(bits.W >> 16) },
        };
    }

    /// <inheritdoc/>
    public readonly void Store(int index, float value) => View[index] = StorageBits.ToHalf(value);

    /// <summary>The four elements packed two to a word in <paramref name="low"/> and <paramref name="high"/>, widened (exact).</summary>
    private static Float4 Widen(uint low, uint high) => new()
    {
        X = StorageBits.FromHalf((ushort)low),
        Y = StorageBits.FromHalf((ushort)(low >> 16)),
        Z = StorageBits.FromHalf((ushort)high),
        W = StorageBits.FromHalf((ushort)(high >> 16)),
    };

    /// <summary>
    /// The fp32 value of the finite fp16 element in the low 16 bits of <paramref name="bits"/>: its exponent and
    /// mantissa moved into fp32's fields read as a number 2^112 too small (a subnormal fp32 for a subnormal fp16), then
    /// multiplied by 2^112, exactly (no branch: far fewer registers than <see cref="StorageBits.FromHalf"/> when eight
    /// are widened at a time). Needs a multiply that keeps subnormal inputs (PTX <c>mul.f32</c> without <c>.ftz</c>, .NET).
    /// </summary>
    private static float Finite(uint bits) =>
        Interop.IntAsFloat(((bits & 0x7FFFu) << 13) | ((bits & 0x8000u) << 16)) * Interop.IntAsFloat(0x77800000u);
}
