using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// Host side of <see cref="SomaStorageType"/>: element sizes, the names snapshots and the tool use ("f32", "f16",
/// "bf16"), and the conversions of whole arrays, through the kernels' own bit-exact <see cref="StorageBits"/>.
/// </summary>
internal static class StorageTypes
{
    /// <summary>Bytes of one element of <paramref name="type"/>: 4 or 2.</summary>
    public static int Bytes(SomaStorageType type) => type == SomaStorageType.Float32 ? 4 : 2;

    /// <summary>16-bit units of one element of <paramref name="type"/> (the raw device buffers count in these): 2 or 1.</summary>
    public static int Units(SomaStorageType type) => Bytes(type) / 2;

    /// <summary>The short name of <paramref name="type"/>: "f32", "f16" or "bf16".</summary>
    public static string Name(SomaStorageType type) => type switch
    {
        SomaStorageType.Float16 => "f16",
        SomaStorageType.BFloat16 => "bf16",
        _ => "f32",
    };

    /// <summary>The type named <paramref name="name"/> ("f32", "f16", "bf16"; also "fp32", "fp16", "float32", "float16", "bfloat16"), or null.</summary>
    public static SomaStorageType? Parse(string? name) => name?.ToLowerInvariant() switch
    {
        "f32" or "fp32" or "float32" => SomaStorageType.Float32,
        "f16" or "fp16" or "float16" => SomaStorageType.Float16,
        "bf16" or "bfloat16" => SomaStorageType.BFloat16,
        _ => null,
    };

    /// <summary><paramref name="value"/> as <paramref name="type"/> stores it (rounded to nearest even for a 16-bit type).</summary>
    public static float Round(float value, SomaStorageType type) => type switch
    {
        SomaStorageType.Float16 => StorageBits.FromHalf(StorageBits.ToHalf(value)),
        SomaStorageType.BFloat16 => StorageBits.FromBFloat16(StorageBits.ToBFloat16(value)),
        _ => value,
    };

    /// <summary>
    /// What a layer's outputs are held to against the reference fed the stored values (docs/semantics.md, "Storage
    /// types"): the largest |y - y_ref| / max(1, max |y_ref|) and the smallest cosine. fp32 arithmetic alone stays within
    /// 1e-4; with a 16-bit ring the device's fp32 k or v and the reference's double one may lie on either side of a
    /// rounding midpoint and be stored one 16-bit step apart, which moves an output by up to about one step of that
    /// element's share (measured 1.9e-3 for bf16), so the bound is 1e-3 for fp16 and 5e-3 for bf16.
    /// </summary>
    public static (double Relative, double Cosine) OutputBound(SomaStorageType ring) => ring switch
    {
        SomaStorageType.Float16 => (1e-3, 0.99999),
        SomaStorageType.BFloat16 => (5e-3, 0.99999),
        _ => (1e-4, 0.999999),
    };

    /// <summary>The 16-bit pattern of <paramref name="value"/> in a 16-bit <paramref name="type"/>.</summary>
    public static ushort Narrow(float value, SomaStorageType type) =>
        type == SomaStorageType.BFloat16 ? StorageBits.ToBFloat16(value) : StorageBits.ToHalf(value);

    /// <summary>The fp32 value of a 16-bit pattern of a 16-bit <paramref name="type"/> (exact).</summary>
    public static float Widen(ushort bits, SomaStorageType type) =>
        type == SomaStorageType.BFloat16 ? StorageBits.FromBFloat16(bits) : StorageBits.FromHalf(bits);

    /// <summary>
    /// Writes <paramref name="values"/> into <paramref name="units"/> as <paramref name="type"/> stores them: fp32 as
    /// two little-endian 16-bit units each, a 16-bit type as one rounded unit each.
    /// </summary>
    public static void Encode(ReadOnlySpan<float> values, Span<ushort> units, SomaStorageType type)
    {
        if (type == SomaStorageType.Float32)
        {
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(units));
            return;
        }

        for (int i = 0; i < values.Length; i++)
        {
            units[i] = Narrow(values[i], type);
        }
    }

    /// <summary>The inverse of <see cref="Encode"/>: exact.</summary>
    public static void Decode(ReadOnlySpan<ushort> units, Span<float> values, SomaStorageType type)
    {
        if (type == SomaStorageType.Float32)
        {
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(units).CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
            return;
        }

        for (int i = 0; i < values.Length; i++)
        {
            values[i] = Widen(units[i], type);
        }
    }
}
