using ILGPU;

namespace Soma.Kernels;

/// <summary>
/// Bit-exact conversions between fp32 and the 16-bit storage types, written with integer operations so that the
/// kernels and the host round identically on every accelerator (ILGPU's software half conversion on the CPU
/// accelerator need not round to nearest even). Widening is exact; narrowing rounds to nearest, ties to even;
/// NaN stays NaN and values past the 16-bit range become infinities.
/// </summary>
internal static class StorageBits
{
    /// <summary>The bfloat16 bits of <paramref name="value"/>: its upper 16 bits, rounded to nearest even.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint u = Interop.FloatAsInt(value);
        if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        {
            return (ushort)((u >> 16) | 0x0040u);
        }

        u += 0x7FFFu + ((u >> 16) & 1u);
        return (ushort)(u >> 16);
    }

    /// <summary>The fp32 value of bfloat16 <paramref name="bits"/> (exact).</summary>
    public static float FromBFloat16(ushort bits) => Interop.IntAsFloat((uint)bits << 16);

    /// <summary>The IEEE fp16 bits of <paramref name="value"/>, rounded to nearest even (subnormals included).</summary>
    public static ushort ToHalf(float value)
    {
        uint u = Interop.FloatAsInt(value);
        uint sign = (u >> 16) & 0x8000u;
        uint a = u & 0x7FFFFFFFu;
        uint h;
        if (a >= 0x47800000u)
        {
            // 2^16 and above, infinities and NaN (values in [65520, 65536) round to infinity on the normal path).
            h = a > 0x7F800000u ? 0x7E00u : 0x7C00u;
        }
        else if (a < 0x38800000u)
        {
            // Below 2^-14: a subnormal or zero half. Adding 0.5 makes the fp32 adder round at 2^-24, to nearest even.
            h = Interop.FloatAsInt(Interop.IntAsFloat(a) + 0.5f) - 0x3F000000u;
        }
        else
        {
            uint odd = (a >> 13) & 1u;
            h = (a - 0x38000000u + 0x0FFFu + odd) >> 13;
        }

        return (ushort)(h | sign);
    }

    /// <summary>The fp32 value of IEEE fp16 <paramref name="bits"/> (exact, subnormals included).</summary>
    public static float FromHalf(ushort bits)
    {
        uint sign = ((uint)bits & 0x8000u) << 16;
        uint o = ((uint)bits & 0x7FFFu) << 13;
        uint exponent = o & 0x0F800000u;
        o += 0x38000000u;
        if (exponent == 0x0F800000u)
        {
            o += 0x38000000u;
        }
        else if (exponent == 0)
        {
            o = Interop.FloatAsInt(Interop.IntAsFloat(o + 0x00800000u) - Interop.IntAsFloat(0x38800000u));
        }

        return Interop.IntAsFloat(o | sign);
    }
}
