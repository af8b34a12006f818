using System.Buffers.Binary;

namespace Soma.IO;

/// <summary>
/// NumPy .npy arrays, read as untrusted input: little-endian float32, float16 or float64 arrays in C order (any rank)
/// as float (float64 converted, a value beyond float32's range an error), int32 or int64 arrays as long (token ids);
/// writes float32. Anything else (Fortran order, big-endian, other dtypes, a malformed or lying header, truncated
/// data, and in a file bytes after the array) is an <see cref="InvalidDataException"/> that says what was found.
/// Nothing larger than the file is allocated: the shape's byte count is checked against the file's length first.
/// </summary>
public static class NpyFile
{
    private const string Source = "The .npy file";

    /// <summary>Reads the float array in <paramref name="path"/>; returns its values (row-major) and shape. Errors name the file.</summary>
    public static (float[] Data, long[] Shape) Read(string path) => FromFile(path, stream => ReadFloats(stream, wholeStream: true));

    /// <summary>Reads one float32, float16 or float64 .npy array from <paramref name="stream"/> (which may hold more after it).</summary>
    public static (float[] Data, long[] Shape) Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ReadFloats(stream, wholeStream: false);
    }

    /// <summary>Reads the int32 or int64 array in <paramref name="path"/> as long; returns its values and shape. Errors name the file.</summary>
    public static (long[] Data, long[] Shape) ReadInt64(string path) => FromFile(path, stream => ReadIntegers(stream, wholeStream: true));

    /// <summary>Reads one int32 or int64 .npy array from <paramref name="stream"/> as long.</summary>
    public static (long[] Data, long[] Shape) ReadInt64(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ReadIntegers(stream, wholeStream: false);
    }

    /// <summary>
    /// Reads token ids: a 1-D int32 or int64 array in <paramref name="path"/> whose every id lies in
    /// [0, <paramref name="vocabularySize"/>). Another rank or an id outside that range is an
    /// <see cref="InvalidDataException"/> naming the file and the position.
    /// </summary>
    public static int[] ReadTokens(string path, int vocabularySize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabularySize);
        var (ids, shape) = ReadInt64(path);
        if (shape.Length != 1)
        {
            throw new InvalidDataException($"{path}: token ids have shape ({string.Join(", ", shape)}); expected a 1-D array (n,) (for a batch of one, save ids[0]).");
        }

        var tokens = new int[ids.Length];
        for (int i = 0; i < ids.Length; i++)
        {
            tokens[i] = ids[i] >= 0 && ids[i] < vocabularySize
                ? (int)ids[i]
                : throw new InvalidDataException($"{path}: token {i} is {ids[i]}; expected an id in [0, {vocabularySize}).");
        }

        return tokens;
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
        long count = shape.Aggregate(1L, (a, b) => b < 0 ? throw new ArgumentOutOfRangeException(nameof(shape), b, "Dimensions must be >= 0.") : checked(a * b));
        if (count != data.Length)
        {
            throw new ArgumentException($"shape ({string.Join(", ", shape)}) holds {count} elements; data has {data.Length}.", nameof(shape));
        }

        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        stream.Write(NpyHeader.Prefix($"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}"));
        var bytes = new byte[data.Length * 4];
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), data[i]);
        }

        stream.Write(bytes);
    }

    private static (float[] Data, long[] Shape) ReadFloats(Stream stream, bool wholeStream) =>
        ReadArray(stream, wholeStream, header => ElementDecoding.IsFloat(header.Type)
            ? ElementDecoding.ToFloat(header.Type, "The .npy data")
            : throw new InvalidDataException(
                $"The .npy dtype '{header.Descr}' is not supported here: expected floats ('<f4', '<f2' or '<f8'); integer arrays are token ids (NpyFile.ReadTokens)."));

    private static (long[] Data, long[] Shape) ReadIntegers(Stream stream, bool wholeStream) =>
        ReadArray(stream, wholeStream, header => !ElementDecoding.IsFloat(header.Type)
            ? ElementDecoding.ToInt64(header.Type, "The .npy data")
            : throw new InvalidDataException($"The .npy dtype '{header.Descr}' holds floats; expected integers ('<i4' or '<i8')."));

    /// <summary>The header, then the data: checked against the stream's length before anything is allocated for it.</summary>
    private static (T[] Data, long[] Shape) ReadArray<T>(Stream stream, bool wholeStream, Func<NpyHeader, StreamReads.Decoder<T>> decoderFor)
    {
        var header = NpyHeader.Read(stream);
        var decode = decoderFor(header);
        long bytes = header.DataBytes;
        if (wholeStream && StreamReads.Remaining(stream) is { } left && left > bytes)
        {
            throw new InvalidDataException(
                $"{Source} has {left} bytes after its header, but its shape {header.ShapeText} of '{header.Descr}' accounts for {bytes}: the header does not describe the data.");
        }

        var data = StreamReads.Elements(stream, header.Count, ElementDecoding.Size(header.Type), decode, Source, $"the data (shape {header.ShapeText} of '{header.Descr}')");
        return (data, header.Shape);
    }

    /// <summary>Opens <paramref name="path"/> and reads it whole with <paramref name="read"/>; errors name the file.</summary>
    private static T FromFile<T>(string path, Func<Stream, T> read)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
        {
            throw new InvalidDataException($"{path} is a directory; expected a .npy file.");
        }

        using var stream = File.OpenRead(path);
        try
        {
            return read(stream);
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{path}: {ex.Message}", ex);
        }
    }
}
