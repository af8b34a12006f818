using System.Buffers.Binary;
using System.Text.Json;

namespace Soma.Tests.IO;

/// <summary>A minimal safetensors writer for tests: header JSON with data_offsets in order, then the tensors' bytes.</summary>
internal static class SafetensorsWriter
{
    public static void Write(string path, IEnumerable<(string Name, string Dtype, long[] Shape, byte[] Data)> tensors, Dictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var header = new Dictionary<string, object>();
        if (metadata is not null)
        {
            header["__metadata__"] = metadata;
        }

        long offset = 0;
        foreach (var t in list)
        {
            header[t.Name] = new Dictionary<string, object> { ["dtype"] = t.Dtype, ["shape"] = t.Shape, ["data_offsets"] = new[] { offset, offset + t.Data.Length } };
            offset += t.Data.Length;
        }

        var json = JsonSerializer.SerializeToUtf8Bytes(header);
        using var stream = File.Create(path);
        var length = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)json.Length);
        stream.Write(length);
        stream.Write(json);
        foreach (var t in list)
        {
            stream.Write(t.Data);
        }
    }

    /// <summary>A file of the given header JSON (any text, true length) followed by <paramref name="dataBytes"/> zero bytes.</summary>
    public static byte[] WithHeader(string json, int dataBytes)
    {
        var header = System.Text.Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    public static byte[] F32(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }

    public static byte[] F16(params float[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)values[i]);
        }

        return bytes;
    }

    /// <summary>BF16 bytes: float32 rounded to nearest even in its upper 16 bits.</summary>
    public static byte[] BF16(params float[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), ToBF16(values[i]));
        }

        return bytes;
    }

    /// <summary>What a BF16 tensor holds for <paramref name="value"/>, widened back to float.</summary>
    public static float RoundBF16(float value) => BitConverter.Int32BitsToSingle(ToBF16(value) << 16);

    private static ushort ToBF16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }
}
