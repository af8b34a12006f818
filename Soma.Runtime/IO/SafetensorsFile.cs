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
    /// <summary>Product of the dimensions (an <see cref="OverflowException"/> past 2^63; an opened file's tensors fit in it).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, b) => checked(a * b));
}

/// <summary>
/// A memory-mapped .safetensors file: the header is parsed (System.Text.Json) and checked whole when the file is
/// opened, and a tensor's bytes are read only when asked for, so loading one layer of a large checkpoint touches
/// only that layer's pages. F32, F16 and BF16 tensors read as float.
/// </summary>
/// <remarks>
/// Checked on open, as the reference implementation (the safetensors crate) does: the 8-byte header length lies
/// inside the file and below 100 MB; the header is a JSON object; __metadata__, where present, maps strings to
/// strings; every tensor has a known dtype, non-negative dimensions whose element and byte counts fit in 64 bits
/// (checked, never wrapped) and data_offsets [begin, end) with end - begin equal to elements x dtype size; no name
/// appears twice; and the tensors, in order of their offsets, tile the data section exactly: no overlap, no gap, no
/// bytes before the first, between two or after the last. Each failure is an <see cref="InvalidDataException"/>
/// naming the file, the tensor and what was wrong.
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
        if (Directory.Exists(path))
        {
            throw new InvalidDataException($"{path} is a directory; expected a .safetensors file.");
        }

        // The length is the mapped file's own, so a file that changes size between the two cannot make them disagree.
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long length = file.Length;
        if (length < 8)
        {
            file.Dispose();
            throw new InvalidDataException($"{path} is {length} bytes: too short for a safetensors header length.");
        }

        MemoryMappedFile map;
        try
        {
            map = MemoryMappedFile.CreateFromFile(file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
        }
        catch
        {
            file.Dispose();
            throw;
        }

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

        if (info.ElementCount == 0)
        {
            return [];
        }

        // Converted in 1 MiB pieces straight from the mapping: no copy of the whole tensor's bytes, and only its pages are touched.
        var type = info.Dtype switch { "F32" => ElementType.F32, "F16" => ElementType.F16, _ => ElementType.BF16 };
        using var view = map.CreateViewStream(dataStart + info.Begin, info.End - info.Begin, MemoryMappedFileAccess.Read);
        return StreamReads.Elements(view, info.ElementCount, ElementDecoding.Size(type), ElementDecoding.ToFloat(type, Path), Path, $"tensor '{name}'");
    }

    /// <summary>
    /// Reads F16 or BF16 tensor <paramref name="name"/> as its raw 16-bit patterns (little-endian), converting
    /// nothing: how a 16-bit checkpoint reaches a layer bit for bit (<see cref="SomaLayerWeights.FromBits"/>).
    /// Returns the type with the bits; throws for other dtypes.
    /// </summary>
    public (SomaStorageType Type, ushort[] Bits) ReadBits(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Tensors.TryGetValue(name, out var info))
        {
            throw new KeyNotFoundException($"{Path} has no tensor '{name}'.");
        }

        var type = info.Dtype switch
        {
            "F16" => SomaStorageType.Float16,
            "BF16" => SomaStorageType.BFloat16,
            _ => throw new InvalidDataException($"Tensor '{name}' in {Path} is {info.Dtype}; expected F16 or BF16 for a 16-bit read."),
        };
        if (info.ElementCount > Array.MaxLength)
        {
            throw new NotSupportedException($"Tensor '{name}' in {Path} has {info.ElementCount} elements, more than one array holds.");
        }

        if (info.ElementCount == 0)
        {
            return (type, []);
        }

        using var view = map.CreateViewStream(dataStart + info.Begin, info.End - info.Begin, MemoryMappedFileAccess.Read);
        var bits = StreamReads.Elements<ushort>(
            view, info.ElementCount, sizeof(ushort),
            (raw, target, _) =>
            {
                for (int i = 0; i < target.Length; i++)
                {
                    target[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(raw[(i * 2)..]);
                }
            },
            Path, $"tensor '{name}'");
        return (type, bits);
    }

    /// <summary>Releases the mapping.</summary>
    public void Dispose() => map.Dispose();

    private static (Dictionary<string, SafetensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        if (header[0] != (byte)'{')
        {
            throw new InvalidDataException($"{path}: the safetensors header does not start with '{{'; it is not a JSON object.");
        }

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
            Dictionary<string, string>? metadata = null;
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    metadata = metadata is null ? ReadMetadata(path, entry.Value) : throw new InvalidDataException($"{path}: the header has __metadata__ twice.");
                    continue;
                }

                if (tensors.ContainsKey(entry.Name))
                {
                    throw new InvalidDataException($"{path}: the header names tensor '{entry.Name}' twice.");
                }

                tensors[entry.Name] = Tensor(path, entry.Name, entry.Value, dataLength);
            }

            CheckTiling(path, tensors.Values, dataLength);
            return (tensors, metadata ?? new Dictionary<string, string>());
        }
    }

    private static Dictionary<string, string> ReadMetadata(string path, JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{path}: the header's __metadata__ is not an object of strings.");
        }

        var metadata = new Dictionary<string, string>();
        foreach (var m in value.EnumerateObject())
        {
            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String
                ? m.Value.GetString()!
                : throw new InvalidDataException($"{path}: the header's __metadata__ '{m.Name}' is {m.Value.ValueKind}, not a string.");
        }

        return metadata;
    }

    /// <summary>The tensors, by offset, must cover [0, dataLength) exactly once (the safetensors crate's rule).</summary>
    private static void CheckTiling(string path, IEnumerable<SafetensorInfo> tensors, long dataLength)
    {
        long covered = 0;
        SafetensorInfo? previous = null;
        foreach (var t in tensors.OrderBy(t => t.Begin).ThenBy(t => t.End))
        {
            if (t.Begin < covered)
            {
                throw new InvalidDataException($"{path}: tensors '{previous!.Name}' and '{t.Name}' overlap in the data section.");
            }

            if (t.Begin > covered)
            {
                throw new InvalidDataException(
                    $"{path}: bytes [{covered}, {t.Begin}) of the data section, before tensor '{t.Name}', belong to no tensor: the offsets do not describe the data.");
            }

            covered = t.End;
            previous = t;
        }

        if (covered != dataLength)
        {
            throw new InvalidDataException(
                $"{path}: the data section has {dataLength} bytes but its tensors end at byte {covered}: the header does not describe the data.");
        }
    }

    private static SafetensorInfo Tensor(string path, string name, JsonElement value, long dataLength)
    {
        try
        {
            if (value.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{path}: tensor '{name}' is {value.ValueKind}, not an object with dtype, shape and data_offsets.");
            }

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
            if (begin < 0 || end < begin || end > dataLength)
            {
                throw new InvalidDataException(
                    $"{path}: tensor '{name}' claims bytes [{begin}, {end}) but the data section has {dataLength} bytes.");
            }

            long expected = 1;
            foreach (long d in shape.Append(size))
            {
                expected = d == 0 || expected <= long.MaxValue / d
                    ? expected * d
                    : throw new InvalidDataException(
                        $"{path}: tensor '{name}' ({dtype}, shape [{string.Join(", ", shape)}]) has more than {long.MaxValue} bytes: its shape is not real.");
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
