using System.Buffers.Binary;

namespace Soma.IO;

/// <summary>The little-endian element types the file readers convert.</summary>
internal enum ElementType
{
    /// <summary>IEEE float32.</summary>
    F32,

    /// <summary>IEEE float16.</summary>
    F16,

    /// <summary>bfloat16: the upper half of a float32.</summary>
    BF16,

    /// <summary>IEEE float64.</summary>
    F64,

    /// <summary>Signed 32-bit integer.</summary>
    I32,

    /// <summary>Signed 64-bit integer.</summary>
    I64,
}

/// <summary>
/// Raw little-endian elements to float or long, one piece at a time, for the .npy and safetensors readers. A float64
/// value outside float32's range is an <see cref="InvalidDataException"/> rather than a silent infinity.
/// </summary>
internal static class ElementDecoding
{
    /// <summary>Bytes per element of <paramref name="type"/>.</summary>
    public static int Size(ElementType type) => type switch
    {
        ElementType.F16 or ElementType.BF16 => 2,
        ElementType.F32 or ElementType.I32 => 4,
        _ => 8,
    };

    /// <summary>Whether <paramref name="type"/> is a floating-point type.</summary>
    public static bool IsFloat(ElementType type) => type is not (ElementType.I32 or ElementType.I64);

    /// <summary>A decoder of <paramref name="type"/> (a float type) to float; <paramref name="source"/> names the file in errors.</summary>
    public static StreamReads.Decoder<float> ToFloat(ElementType type, string source) => (raw, target, first) =>
    {
        switch (type)
        {
            case ElementType.F32:
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(i * 4)..]);
                }

                break;
            case ElementType.F16:
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(raw[(i * 2)..]);
                }

                break;
            case ElementType.BF16:
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw[(i * 2)..]) << 16);
                }

                break;
            case ElementType.F64:
                for (int i = 0; i < target.Length; i++)
                {
                    double value = BinaryPrimitives.ReadDoubleLittleEndian(raw[(i * 8)..]);
                    target[i] = (float)value;
                    if (float.IsInfinity(target[i]) && double.IsFinite(value))
                    {
                        throw new InvalidDataException(
                            $"{source}: element {first + i} is {value:R}, outside the float32 range (±{float.MaxValue:R}); float64 data is converted to float32.");
                    }
                }

                break;
            default:
                throw new InvalidDataException($"{source}: {type} elements are integers, not floats.");
        }
    };

    /// <summary>A decoder of <paramref name="type"/> (I32 or I64) to long.</summary>
    public static StreamReads.Decoder<long> ToInt64(ElementType type, string source) => (raw, target, _) =>
    {
        switch (type)
        {
            case ElementType.I32:
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = BinaryPrimitives.ReadInt32LittleEndian(raw[(i * 4)..]);
                }

                break;
            case ElementType.I64:
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = BinaryPrimitives.ReadInt64LittleEndian(raw[(i * 8)..]);
                }

                break;
            default:
                throw new InvalidDataException($"{source}: {type} elements are floats, not integers.");
        }
    };
}
