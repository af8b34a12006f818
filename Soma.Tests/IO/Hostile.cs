namespace Soma.Tests.IO;

/// <summary>The hostile files of issue 10 item 6, byte for byte, for the reader tests and the CLI tests.</summary>
internal static class Hostile
{
    /// <summary>The .npy cases by name (see <see cref="NpyCases"/>).</summary>
    public static byte[] Npy(string name) => name switch
    {
        // A v2 header length of 2^31 (the reader used to throw OverflowException on it).
        "v2 header length 2^31" => NpyWriter.Raw("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", new byte[8], major: 2, lengthField: 1L << 31),
        // A shape of 536,870,911 floats in a 160-byte file (used to throw OutOfMemoryException).
        "536870911 floats in 160 bytes" => Padded(NpyWriter.Bytes("<f4", "False", "(536870911,)", []), 160),
        // 500 million floats with 20 bytes of data (used to allocate 2 GB before saying "truncated").
        "500 million floats, 20 present" => NpyWriter.Bytes("<f4", "False", "(500000000,)", new byte[20]),
        // 2^59 float64s: 2^62 bytes, a size that fits in a long but no file.
        "2^59 float64s" => NpyWriter.Bytes("<f8", "False", "(576460752303423488,)", new byte[16]),
        // 2^62 float64s: 2^65 bytes, more than a long holds.
        "2^62 float64s" => NpyWriter.Bytes("<f8", "False", "(4611686018427387904,)", new byte[16]),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no such hostile .npy"),
    };

    /// <summary>A safetensors file with one F32 tensor of shape [2^62] and data_offsets [0, 0] (used to pass Open: 2^62 x 4 wrapped to 0).</summary>
    public static byte[] Safetensors() =>
        SafetensorsWriter.WithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0);

    private static byte[] Padded(byte[] bytes, int length)
    {
        var padded = new byte[length];
        bytes.CopyTo(padded, 0);
        return padded;
    }
}
