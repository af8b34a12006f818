using System.Buffers.Binary;
using Soma.Internal;
using Soma.Kernels;

namespace Soma.Tests;

/// <summary>
/// The kernels' bit-exact 16-bit conversions (<see cref="StorageBits"/>) against .NET's own: fp16 against
/// <see cref="Half"/> (round to nearest even), bf16 against the definition (the upper half of an fp32, rounded to
/// nearest even). Host code; no accelerator.
/// </summary>
public sealed class StorageBitsTests
{
    [Fact]
    public void EveryHalf_WidensExactly_AndNarrowsBackToItself()
    {
        for (int bits = 0; bits < 65536; bits++)
        {
            var expected = BitConverter.UInt16BitsToHalf((ushort)bits);
            float wide = StorageBits.FromHalf((ushort)bits);
            if (Half.IsNaN(expected))
            {
                float.IsNaN(wide).Should().BeTrue($"0x{bits:X4} is NaN");
                continue;
            }

            wide.Should().Be((float)expected, $"fp16 0x{bits:X4} widens exactly");
            StorageBits.ToHalf(wide).Should().Be((ushort)bits, $"fp16 0x{bits:X4} narrows back to itself");
        }
    }

    [Fact]
    public void EveryBFloat16_WidensExactly_AndNarrowsBackToItself()
    {
        for (int bits = 0; bits < 65536; bits++)
        {
            float wide = StorageBits.FromBFloat16((ushort)bits);
            BitConverter.SingleToInt32Bits(wide).Should().Be(bits << 16);
            if (!float.IsNaN(wide))
            {
                StorageBits.ToBFloat16(wide).Should().Be((ushort)bits);
            }
        }
    }

    [Fact]
    public void Narrowing_RoundsToNearestEven_LikeDotNet_OverRandomAndBoundaryFloats()
    {
        var rng = new Random(5);
        var samples = new List<uint>();
        for (int i = 0; i < 400_000; i++)
        {
            samples.Add((uint)rng.NextInt64(0, 1L << 32));
        }

        // Halfway cases and the edges of each format: ties of fp16 (13 dropped bits) and bf16 (16), overflow and subnormals.
        foreach (uint exponent in new uint[] { 0, 1, 100, 102, 103, 112, 113, 127, 142, 143, 254 })
        {
            foreach (uint mantissa in new uint[] { 0, 0x1000, 0x2000, 0x3000, 0x0FFF, 0x1001, 0x8000, 0x18000, 0x7FFF, 0x7FFFFF, 0x7FE000, 0x7FF000 })
            {
                samples.Add((exponent << 23) | mantissa);
                samples.Add(0x80000000u | (exponent << 23) | mantissa);
            }
        }

        samples.AddRange(new uint[] { 0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x7F7FFFFF, 0x7F800000, 0x33000000, 0x33000001, 0x32FFFFFF });
        foreach (uint u in samples)
        {
            float f = BitConverter.UInt32BitsToSingle(u);
            if (float.IsNaN(f))
            {
                Half.IsNaN(BitConverter.UInt16BitsToHalf(StorageBits.ToHalf(f))).Should().BeTrue();
                float.IsNaN(StorageBits.FromBFloat16(StorageBits.ToBFloat16(f))).Should().BeTrue();
                continue;
            }

            StorageBits.ToHalf(f).Should().Be(BitConverter.HalfToUInt16Bits((Half)f), $"fp32 0x{u:X8} to fp16");
            StorageBits.ToBFloat16(f).Should().Be(BFloat16ByDefinition(f), $"fp32 0x{u:X8} to bf16");
        }
    }

    [Fact]
    public void ArraysEncodeAndDecode_InEachType()
    {
        var values = new[] { 1f, -2.5f, 1.00048828125f, 3.3e-5f, 70000f };
        foreach (var type in Enum.GetValues<SomaStorageType>())
        {
            var units = new ushort[values.Length * StorageTypes.Units(type)];
            StorageTypes.Encode(values, units, type);
            var back = new float[values.Length];
            StorageTypes.Decode(units, back, type);
            back.Should().Equal(values.Select(v => StorageTypes.Round(v, type)), type.ToString());
        }

        StorageTypes.Round(70000f, SomaStorageType.Float16).Should().Be(float.PositiveInfinity, "fp16 ends at 65504");
        StorageTypes.Round(1.00048828125f, SomaStorageType.Float16).Should().Be(1f, "the tie goes to the even neighbour");
        StorageTypes.Round(1.0078125f, SomaStorageType.BFloat16).Should().Be(1.0078125f);
        StorageTypes.Round(1.00390625f, SomaStorageType.BFloat16).Should().Be(1f, "the bf16 tie goes to the even neighbour");
        StorageTypes.Round(1.01171875f, SomaStorageType.BFloat16).Should().Be(1.015625f, "the bf16 tie goes to the even neighbour");
    }

    /// <summary>bf16 by its definition, in double: the nearest bf16 value, ties to the even significand.</summary>
    private static ushort BFloat16ByDefinition(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        ushort down = (ushort)(u >> 16);
        ushort up = (ushort)(down + 1);
        if ((u & 0xFFFF) == 0)
        {
            return down;
        }

        double lo = Math.Abs((double)BitConverter.UInt32BitsToSingle((uint)down << 16));
        double hi = Math.Abs((double)BitConverter.UInt32BitsToSingle((uint)up << 16));
        double a = Math.Abs((double)f);
        if (float.IsInfinity(BitConverter.UInt32BitsToSingle((uint)up << 16)))
        {
            // Past the largest bf16: rounds to infinity from the halfway point on, as IEEE rounding does.
            hi = (double)BitConverter.UInt32BitsToSingle(0x7F7F0000u) + Math.Pow(2, 127 - 7);
        }

        return a - lo < hi - a ? down : a - lo > hi - a ? up : (down & 1) == 0 ? down : up;
    }
}
