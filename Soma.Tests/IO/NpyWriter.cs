using System.Buffers.Binary;
using System.Text;

namespace Soma.Tests.IO;

/// <summary>
/// .npy bytes for tests, as NumPy lays them out (magic, version, header length, a dict literal ending in a newline,
/// the data), with any header text, version and header-length field, so tests can write files that lie.
/// </summary>
internal static class NpyWriter
{
    public static byte[] Bytes(string descr, string fortran, string shape, byte[] data, int major = 1) =>
        Raw($"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}\n", data, major);

    /// <summary>The header text as given; <paramref name="lengthField"/> replaces its true length in the length field.</summary>
    public static byte[] Raw(string header, byte[] data, int major = 1, long? lengthField = null)
    {
        var text = Encoding.Latin1.GetBytes(header);
        int lengthBytes = major == 1 ? 2 : 4;
        var bytes = new byte[8 + lengthBytes + text.Length + data.Length];
        new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0 }.CopyTo(bytes, 0);
        long length = lengthField ?? text.Length;
        if (major == 1)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)length);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)length);
        }

        text.CopyTo(bytes, 8 + lengthBytes);
        data.CopyTo(bytes, 8 + lengthBytes + text.Length);
        return bytes;
    }

    public static byte[] F64(params double[] values) => Pack(values, 8, (span, v) => BinaryPrimitives.WriteDoubleLittleEndian(span, v));

    public static byte[] I32(params int[] values) => Pack(values, 4, (span, v) => BinaryPrimitives.WriteInt32LittleEndian(span, v));

    public static byte[] I64(params long[] values) => Pack(values, 8, (span, v) => BinaryPrimitives.WriteInt64LittleEndian(span, v));

    private delegate void Put<T>(Span<byte> span, T value);

    private static byte[] Pack<T>(T[] values, int size, Put<T> put)
    {
        var bytes = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
        {
            put(bytes.AsSpan(i * size), values[i]);
        }

        return bytes;
    }
}
