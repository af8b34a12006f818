using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Soma;

/// <summary>
/// The on-stream form of one session's state: a versioned, self-describing header, the ring and field, and a
/// SHA-256 checksum. Written by <see cref="SomaSession.SaveState"/>, read by <see cref="SomaSession.LoadState"/>.
/// </summary>
/// <remarks>
/// Layout (little-endian): "SOMASNAP" | u32 version | u32 header bytes | header (UTF-8 JSON) | ring K, ring V
/// ([rows, Hkv, dh] fp32 each) | field ([Hkv, dh] fp32: the fp64 device field rounded once, widened on load) |
/// SHA-256 of everything before it.
/// The header names the layer shape, window (or KV capacity), dtype and position; a snapshot restores only into a
/// layer of the same shape and kind, on any accelerator.
/// </remarks>
internal static class SessionSnapshot
{
    public const int Version = 1;
    private const int MaxHeaderBytes = 64 * 1024;
    private static readonly byte[] Magic = "SOMASNAP"u8.ToArray();

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static void Write(Stream stream, SnapshotHeader header, float[] ringK, float[] ringV, double[] field)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var headerBytes = JsonSerializer.SerializeToUtf8Bytes(header, Json);
        var prefix = new byte[16];
        Magic.CopyTo(prefix, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(8), Version);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(12), (uint)headerBytes.Length);
        Emit(stream, hash, prefix);
        Emit(stream, hash, headerBytes);
        foreach (var part in new[] { ringK, ringV, Array.ConvertAll(field, f => (float)f) })
        {
            Emit(stream, hash, Floats(part));
        }

        stream.Write(hash.GetHashAndReset());
    }

    /// <summary>Reads and checks a whole snapshot; throws <see cref="InvalidDataException"/> for anything malformed.</summary>
    public static (SnapshotHeader Header, float[] RingK, float[] RingV, double[] Field) Read(Stream stream)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var prefix = ReadExactly(stream, 16, "the snapshot prefix");
        if (!prefix.AsSpan(0, 8).SequenceEqual(Magic))
        {
            throw new InvalidDataException("Not a Soma session snapshot: the stream does not start with 'SOMASNAP'.");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(prefix.AsSpan(8));
        if (version != Version)
        {
            throw new InvalidDataException($"Snapshot version {version} is not supported; this build reads version {Version}.");
        }

        uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(prefix.AsSpan(12));
        if (headerLength == 0 || headerLength > MaxHeaderBytes)
        {
            throw new InvalidDataException($"Snapshot header length {headerLength} is outside 1..{MaxHeaderBytes} bytes.");
        }

        hash.AppendData(prefix);
        var headerBytes = ReadExactly(stream, (int)headerLength, "the snapshot header");
        hash.AppendData(headerBytes);
        SnapshotHeader header;
        try
        {
            header = JsonSerializer.Deserialize<SnapshotHeader>(headerBytes, Json)
                ?? throw new InvalidDataException("The snapshot header is empty.");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The snapshot header is not valid JSON: {ex.Message}", ex);
        }

        header.Check();
        long ring = (long)header.RingRows * header.KvHeads * header.HeadDim;
        var parts = new float[3][];
        long[] lengths = { ring, ring, (long)header.KvHeads * header.HeadDim };
        string[] names = { "ring K", "ring V", "field" };
        for (int i = 0; i < 3; i++)
        {
            var bytes = ReadExactly(stream, checked((int)(lengths[i] * sizeof(float))), $"the snapshot's {names[i]}");
            hash.AppendData(bytes);
            parts[i] = new float[lengths[i]];
            for (int j = 0; j < parts[i].Length; j++)
            {
                parts[i][j] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(j * sizeof(float)));
            }
        }

        var expected = hash.GetHashAndReset();
        var actual = ReadExactly(stream, expected.Length, "the snapshot checksum");
        if (!CryptographicOperations.FixedTimeEquals(expected, actual))
        {
            throw new InvalidDataException("The snapshot checksum does not match its contents: the data is corrupt.");
        }

        return (header, parts[0], parts[1], Array.ConvertAll(parts[2], f => (double)f));
    }

    private static void Emit(Stream stream, IncrementalHash hash, byte[] bytes)
    {
        hash.AppendData(bytes);
        stream.Write(bytes);
    }

    private static byte[] Floats(float[] values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        }

        return bytes;
    }

    private static byte[] ReadExactly(Stream stream, int count, string what) =>
        IO.StreamReads.Exactly(stream, count, "The snapshot", what);
}

/// <summary>The self-describing part of a snapshot.</summary>
internal sealed record SnapshotHeader(
    string Kind,
    int ModelDim,
    int Heads,
    int KvHeads,
    int HeadDim,
    int Window,
    int RingRows,
    bool IncludeCurrent,
    double? RopeTheta,
    double Scale,
    string Dtype,
    long Position)
{
    public static SnapshotHeader Of(SomaLayer layer, long position)
    {
        var o = layer.Options;
        return new SnapshotHeader(
            layer.IsStandardAttention ? "standard" : "soma", o.ModelDim, o.Heads, o.KvHeads, o.HeadDim, o.Window,
            layer.KvCapacity ?? o.Window, o.IncludeCurrent, o.RopeTheta, o.Scale, "f32", position);
    }

    public void Check()
    {
        if (Dtype != "f32")
        {
            throw new InvalidDataException($"Snapshot dtype '{Dtype}' is not supported; expected f32.");
        }

        if (ModelDim < 1 || Heads < 1 || KvHeads < 1 || HeadDim < 1 || RingRows < 1 || Position < 0
            || (long)RingRows * KvHeads * HeadDim > int.MaxValue / 4)
        {
            throw new InvalidDataException("The snapshot header holds an impossible shape or position.");
        }
    }

    /// <summary>Every field that must agree for the state to mean the same thing in <paramref name="layer"/>.</summary>
    public void CheckFits(SomaLayer layer)
    {
        var mine = Of(layer, Position);
        var differences = new List<string>();
        void Compare<T>(string name, T snapshot, T target)
        {
            if (!EqualityComparer<T>.Default.Equals(snapshot, target))
            {
                differences.Add($"{name} {snapshot} vs {target}");
            }
        }

        Compare("kind", Kind, mine.Kind);
        Compare("modelDim", ModelDim, mine.ModelDim);
        Compare("heads", Heads, mine.Heads);
        Compare("kvHeads", KvHeads, mine.KvHeads);
        Compare("headDim", HeadDim, mine.HeadDim);
        Compare("window", Window, mine.Window);
        Compare("ring rows", RingRows, mine.RingRows);
        Compare("includeCurrent", IncludeCurrent, mine.IncludeCurrent);
        Compare("ropeTheta", RopeTheta, mine.RopeTheta);
        Compare("scale", Scale, mine.Scale);
        if (differences.Count > 0)
        {
            throw new InvalidDataException(
                "The snapshot was taken from a different layer shape: " + string.Join(", ", differences) + " (snapshot vs this layer).");
        }

        if (layer.KvCapacity is { } capacity && Position > capacity)
        {
            throw new InvalidDataException($"The snapshot's position {Position} exceeds this layer's KV capacity {capacity}.");
        }
    }
}
