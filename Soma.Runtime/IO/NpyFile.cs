using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Soma.IO;

/// <summary>
/// NumPy .npy tensors: reads little-endian float32 or float16 arrays in C order (any rank) as float, writes
/// float32. Anything else (Fortran order, big-endian, other dtypes, truncated data, a malformed header) is an
/// <see cref="InvalidDataException"/> that says what was found.
/// </summary>
public static partial class NpyFile
{
    private static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    /// <summary>Reads the array in <paramref name="path"/>; returns its values (row-major) and shape. Errors name the file.</summary>
    public static (float[] Data, long[] Shape) Read(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.OpenRead(path);
        try
        {
            return Read(stream);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{path}: {ex.Message}", ex);
        }
    }

    /// <summary>Reads one .npy array from <paramref name="stream"/>.</summary>
    public static (float[] Data, long[] Shape) Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var prefix = ReadExactly(stream, 8, "the .npy magic and version");
        if (!prefix.AsSpan(0, 6).SequenceEqual(Magic))
        {
            throw new InvalidDataException("Not a .npy file: it does not start with \\x93NUMPY.");
        }

        int major = prefix[6];
        int headerLength = major switch
        {
            1 => BinaryPrimitives.ReadUInt16LittleEndian(ReadExactly(stream, 2, "the header length")),
            2 or 3 => checked((int)BinaryPrimitives.ReadUInt32LittleEndian(ReadExactly(stream, 4, "the header length"))),
            _ => throw new InvalidDataException($".npy version {major}.{prefix[7]} is not supported; expected 1.x, 2.x or 3.x."),
        };
        if (headerLength > 1 << 20)
        {
            throw new InvalidDataException($"The .npy header claims {headerLength} bytes; more than 1 MiB is not a real header.");
        }

        string header = Encoding.Latin1.GetString(ReadExactly(stream, headerLength, "the header"));
        string descr = Field(header, "descr", QuotedValue());
        string fortran = Field(header, "fortran_order", BoolValue());
        string shapeText = Field(header, "shape", TupleValue());
        if (fortran == "True")
        {
            throw new InvalidDataException("The .npy array is in Fortran order; only C order is read (use numpy.ascontiguousarray).");
        }

        int itemSize = descr switch
        {
            "<f4" => 4,
            "<f2" => 2,
            ">f4" or ">f2" => throw new InvalidDataException($"The .npy dtype '{descr}' is big-endian; only little-endian float32/float16 is read."),
            _ => throw new InvalidDataException($"The .npy dtype '{descr}' is not supported; expected '<f4' (float32) or '<f2' (float16)."),
        };
        var shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(d => long.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out long v)
                ? v
                : throw new InvalidDataException($"The .npy shape ({shapeText}) holds '{d}', not a dimension."))
            .ToArray();
        // Saturates past int.MaxValue instead of overflowing, so an absurd shape is an error before anything is read.
        long count = shape.Aggregate(1L, (a, b) => a == 0 || b <= int.MaxValue / Math.Max(a, 1) ? a * b : int.MaxValue + 1L);
        if (count * itemSize > int.MaxValue)
        {
            throw new InvalidDataException($"The .npy shape ({shapeText}) holds more than the {int.MaxValue / itemSize} elements this reader takes.");
        }

        var bytes = ReadExactly(stream, (int)(count * itemSize), $"the data ({count} elements of {descr})");
        var data = new float[count];
        for (int i = 0; i < data.Length; i++)
        {
            data[i] = itemSize == 4
                ? BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * 4))
                : (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan(i * 2));
        }

        return (data, shape);
    }

    /// <summary>Writes <paramref name="data"/> as a float32 C-order .npy array of <paramref name="shape"/>.</summary>
    public static void Write(string path, ReadOnlySpan<float> data, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(path);
        using var stream = File.Create(path);
        Write(stream, data, shape);
    }

    /// <summary>Writes one float32 .npy array to <paramref name="stream"/>.</summary>
    public static void Write(Stream stream, ReadOnlySpan<float> data, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(shape);
        long count = shape.Aggregate(1L, (a, b) => b < 0 ? throw new ArgumentOutOfRangeException(nameof(shape), b, "Dimensions must be >= 0.") : a * b);
        if (count != data.Length)
        {
            throw new ArgumentException($"shape ({string.Join(", ", shape)}) holds {count} elements; data has {data.Length}.", nameof(shape));
        }

        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        int unpadded = Magic.Length + 2 + 2 + dict.Length + 1;
        string header = dict + new string(' ', (64 - unpadded % 64) % 64) + "\n";
        stream.Write(Magic);
        stream.Write(new byte[] { 1, 0 });
        var length = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(length, checked((ushort)header.Length));
        stream.Write(length);
        stream.Write(Encoding.Latin1.GetBytes(header));
        var bytes = new byte[data.Length * 4];
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), data[i]);
        }

        stream.Write(bytes);
    }

    private static string Field(string header, string key, Regex value)
    {
        var match = Regex.Match(header, $"'{key}'\\s*:\\s*");
        if (!match.Success)
        {
            throw new InvalidDataException($"The .npy header has no '{key}': {header.Trim()}");
        }

        var v = value.Match(header, match.Index + match.Length);
        if (!v.Success || v.Index != match.Index + match.Length)
        {
            throw new InvalidDataException($"The .npy header's '{key}' is malformed: {header.Trim()}");
        }

        return v.Groups[1].Value;
    }

    [GeneratedRegex("'([^']*)'")]
    private static partial Regex QuotedValue();

    [GeneratedRegex("(True|False)")]
    private static partial Regex BoolValue();

    [GeneratedRegex("\\(([^)]*)\\)")]
    private static partial Regex TupleValue();

    private static byte[] ReadExactly(Stream stream, int count, string what) =>
        StreamReads.Exactly(stream, count, "The .npy file", what);
}
