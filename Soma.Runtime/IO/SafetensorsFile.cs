using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;

namespace Soma.IO;

/// <summary>One tensor's entry in a .safetensors header: dtype, shape and byte range within the data section.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="Dtype">Safetensors dtype string (F32, F16, BF16, I64, ...).</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="Begin">First byte, relative to the data section.</param>
/// <param name="End">One past the last byte, relative to the data section.</param>
public sealed record SafetensorInfo(string Name, string Dtype, IReadOnlyList<long> Shape, long Begin, long End)
{
    /// <summary>Product of the dimensions.</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// A memory-mapped .safetensors file: the header is parsed (System.Text.Json) and checked whole when the file is
/// opened, and a tensor's bytes are read only when asked for, so loading one layer of a large checkpoint touches
/// only that layer's pages. F32, F16 and BF16 tensors read as float.
/// </summary>
/// <remarks>
/// Checked on open: the 8-byte header length lies inside the file and below 100 MB; the header is a JSON object;
/// every tensor has a known dtype, non-negative dimensions and data_offsets [begin, end) inside the data section,
/// with end - begin equal to elements x dtype size; no name appears twice and no two tensors overlap. Each failure is an
/// <see cref="InvalidDataException"/> naming the tensor and what was wrong.
/// </remarks>
public sealed class SafetensorsFile : IDisposable
{
    private const long MaxHeaderBytes = 100L << 20;

    private static readonly Dictionary<string, int> DtypeSizes = new()
    {
        ["BOOL"] = 1, ["U8"] = 1, ["I8"] = 1, ["F8_E5M2"] = 1, ["F8_E4M3"] = 1,
        ["I16"] = 2, ["U16"] = 2, ["F16"] = 2, ["BF16"] = 2,
        ["I32"] = 4, ["U32"] = 4, ["F32"] = 4,
        ["I64"] = 8, ["U64"] = 8, ["F64"] = 8,
    };

    private readonly MemoryMappedFile map;
    private readonly long dataStart;

    private SafetensorsFile(string path, MemoryMappedFile map, long dataStart, Dictionary<string, SafetensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path;
        this.map = map;
        this.dataStart = dataStart;
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The file's path.</summary>
    public string Path { get; }

    /// <summary>Every tensor in the file, by name.</summary>
    public IReadOnlyDictionary<string, SafetensorInfo> Tensors { get; }

    /// <summary>The header's __metadata__ strings (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Opens and checks <paramref name="path"/>; see the remarks for what is checked.</summary>
    public static SafetensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        long length = new FileInfo(path).Length;
        if (length < 8)
        {
            throw new InvalidDataException($"{path} is {length} bytes: too short for a safetensors header length.");
        }

        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        try
        {
            using var lengthView = map.CreateViewAccessor(0, 8, MemoryMappedFileAccess.Read);
            ulong headerLength = lengthView.ReadUInt64(0);
            if (headerLength == 0 || headerLength > (ulong)Math.Min(MaxHeaderBytes, length - 8))
            {
                throw new InvalidDataException(
                    $"{path}: the header length {headerLength} does not fit: the file has {length - 8} bytes after it and headers stop at {MaxHeaderBytes} bytes.");
            }

            byte[] header;
            using (var headerView = map.CreateViewStream(8, (long)headerLength, MemoryMappedFileAccess.Read))
            {
                header = StreamReads.Exactly(headerView, (int)headerLength, path, "the header");
            }

            long dataStart = 8 + (long)headerLength;
            var (tensors, metadata) = ParseHeader(path, header, length - dataStart);
            return new SafetensorsFile(path, map, dataStart, tensors, metadata);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    /// <summary>Reads tensor <paramref name="name"/> as float (F32 as is, F16 and BF16 widened); throws for other dtypes.</summary>
    public float[] ReadFloats(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Tensors.TryGetValue(name, out var info))
        {
            throw new KeyNotFoundException($"{Path} has no tensor '{name}'.");
        }

        if (info.Dtype is not ("F32" or "F16" or "BF16"))
        {
            throw new InvalidDataException($"Tensor '{name}' in {Path} is {info.Dtype}; expected F32, F16 or BF16.");
        }

        if (info.ElementCount > Array.MaxLength)
        {
            throw new NotSupportedException($"Tensor '{name}' in {Path} has {info.ElementCount} elements, more than one float array holds.");
        }

        var values = new float[info.ElementCount];
        if (values.Length == 0)
        {
            return values;
        }

        // Convert in 1 MiB pieces straight from the mapping: no copy of the whole tensor's bytes, and only its pages are touched.
        int size = info.Dtype == "F32" ? 4 : 2;
        var buffer = new byte[(int)Math.Min(info.End - info.Begin, 1 << 20)];
        using var view = map.CreateViewStream(dataStart + info.Begin, info.End - info.Begin, MemoryMappedFileAccess.Read);
        for (int done = 0; done < values.Length;)
        {
            int count = Math.Min(values.Length - done, buffer.Length / size);
            var raw = buffer.AsSpan(0, count * size);
            view.ReadExactly(raw);
            var target = values.AsSpan(done, count);
            switch (info.Dtype)
            {
                case "F32":
                    for (int i = 0; i < count; i++)
                    {
                        target[i] = BinaryPrimitives.ReadSingleLittleEndian(raw[(i * 4)..]);
                    }

                    break;
                case "F16":
                    for (int i = 0; i < count; i++)
                    {
                        target[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(raw[(i * 2)..]);
                    }

                    break;
                default: // BF16: the upper half of a float32.
                    for (int i = 0; i < count; i++)
                    {
                        target[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw[(i * 2)..]) << 16);
                    }

                    break;
            }

            done += count;
        }

        return values;
    }

    /// <summary>Releases the mapping.</summary>
    public void Dispose() => map.Dispose();

    private static (Dictionary<string, SafetensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: the safetensors header is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{path}: the safetensors header is not a JSON object.");
            }

            var tensors = new Dictionary<string, SafetensorInfo>();
            var metadata = new Dictionary<string, string>();
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    if (entry.Value.ValueKind != JsonValueKind.Object)
                    {
                        throw new InvalidDataException($"{path}: the header's __metadata__ is not an object of strings.");
                    }

                    foreach (var m in entry.Value.EnumerateObject())
                    {
                        metadata[m.Name] = m.Value.ToString();
                    }

                    continue;
                }

                if (tensors.ContainsKey(entry.Name))
                {
                    throw new InvalidDataException($"{path}: the header names tensor '{entry.Name}' twice.");
                }

                tensors[entry.Name] = Tensor(path, entry.Name, entry.Value, dataLength);
            }

            var ordered = tensors.Values.Where(t => t.End > t.Begin).OrderBy(t => t.Begin).ToList();
            for (int i = 1; i < ordered.Count; i++)
            {
                if (ordered[i].Begin < ordered[i - 1].End)
                {
                    throw new InvalidDataException(
                        $"{path}: tensors '{ordered[i - 1].Name}' and '{ordered[i].Name}' overlap in the data section.");
                }
            }

            return (tensors, metadata);
        }
    }

    private static SafetensorInfo Tensor(string path, string name, JsonElement value, long dataLength)
    {
        try
        {
            string dtype = value.GetProperty("dtype").GetString() ?? "";
            if (!DtypeSizes.TryGetValue(dtype, out int size))
            {
                throw new InvalidDataException($"{path}: tensor '{name}' has dtype '{dtype}', which is not a safetensors dtype this reader knows.");
            }

            var shape = value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            var offsets = value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            if (shape.Any(d => d < 0) || offsets.Length != 2)
            {
                throw new InvalidDataException($"{path}: tensor '{name}' has a negative dimension or data_offsets that are not [begin, end].");
            }

            long begin = offsets[0], end = offsets[1];
            long expected = shape.Aggregate(1L, (a, b) => checked(a * b)) * size;
            if (begin < 0 || end < begin || end > dataLength)
            {
                throw new InvalidDataException(
                    $"{path}: tensor '{name}' claims bytes [{begin}, {end}) but the data section has {dataLength} bytes.");
            }

            if (end - begin != expected)
            {
                throw new InvalidDataException(
                    $"{path}: tensor '{name}' ({dtype}, shape [{string.Join(", ", shape)}]) needs {expected} bytes but its data_offsets span {end - begin}.");
            }

            return new SafetensorInfo(name, dtype, shape, begin, end);
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            throw new InvalidDataException($"{path}: tensor '{name}' has a malformed entry: {ex.Message}", ex);
        }
    }
}
