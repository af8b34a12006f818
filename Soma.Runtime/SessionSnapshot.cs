using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Soma.Internal;

namespace Soma;

/// <summary>
/// The on-stream form of one session's state: a versioned, self-describing header, the ring and field, and a
/// SHA-256 checksum. Written by <see cref="SomaSession.SaveState(Stream)"/>, read by <see cref="SomaSession.LoadState(Stream)"/>
/// and, one section per layer, by <see cref="ModelSnapshot"/>. A snapshot is untrusted input: the header is checked
/// against the target layer before any payload is read, and nothing larger than the target's state is allocated.
/// </summary>
/// <remarks>
/// Version 2 (written), little-endian: "SOMASNAP" | u32 2 | u32 header bytes (1..16384) | header (UTF-8 JSON,
/// <see cref="SnapshotHeader"/>) | ring K, ring V ([rows, Hkv, dh] f32 each) | field ([Hkv, dh] f64) | SHA-256 of
/// everything before it. Version 1 (still read): the same framing with u32 1, a header without the layer's identity
/// ("dtype": "f32" instead of the two dtypes, no layer_index or weights_sha256) and an f32 field, widened on load.
/// </remarks>
internal static class SessionSnapshot
{
    /// <summary>The version this build writes.</summary>
    public const uint Version = 2;

    /// <summary>The first version, still read (without the identity check it carries no data for).</summary>
    public const uint LegacyVersion = 1;

    /// <summary>Largest header accepted; a written header is a few hundred bytes.</summary>
    public const int MaxHeaderBytes = 16 * 1024;

    private const int ChecksumBytes = 32;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        AllowDuplicateProperties = false,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    /// <summary>The 8 bytes every session snapshot (and every section of a version-1 model snapshot) starts with.</summary>
    public static ReadOnlySpan<byte> Magic => "SOMASNAP"u8;

    /// <summary>Writes one version-2 snapshot of a session's state.</summary>
    public static void Write(Stream stream, SnapshotHeader header, ReadOnlySpan<float> ringK, ReadOnlySpan<float> ringV, ReadOnlySpan<double> field)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var headerBytes = JsonSerializer.SerializeToUtf8Bytes(header, Json);
        Span<byte> prefix = stackalloc byte[16];
        Magic.CopyTo(prefix);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix[12..], (uint)headerBytes.Length);
        SnapshotBytes.Write<byte>(stream, hash, prefix);
        SnapshotBytes.Write<byte>(stream, hash, headerBytes);
        var type = StorageTypes.Parse(header.RingDtype) ?? SomaStorageType.Float32;
        var units = new ushort[ringK.Length * StorageTypes.Units(type)];
        StorageTypes.Encode(ringK, units, type);
        SnapshotBytes.Write<ushort>(stream, hash, units);
        StorageTypes.Encode(ringV, units, type);
        SnapshotBytes.Write<ushort>(stream, hash, units);
        SnapshotBytes.Write(stream, hash, field);
        stream.Write(hash.GetHashAndReset());
    }

    /// <summary>
    /// Reads a whole single-session snapshot for <paramref name="target"/>: the stream must hold exactly one.
    /// Throws <see cref="InvalidDataException"/> for anything malformed, foreign or out of range.
    /// </summary>
    public static SessionState Read(Stream stream, SnapshotTarget target)
    {
        Span<byte> magic = stackalloc byte[8];
        SnapshotBytes.ReadExactly(stream, magic, "the snapshot's magic");
        if (magic.SequenceEqual(ModelSnapshot.Magic))
        {
            throw new InvalidDataException(
                "This is a model's snapshot ('SOMAMODL', one section per layer); load it with SomaModelSession.LoadState, not into one layer's session.");
        }

        CheckMagic(magic);
        var state = ReadSection(stream, target, requiredVersion: null);
        SnapshotBytes.ExpectEnd(stream);
        return state;
    }

    /// <summary>Throws unless <paramref name="magic"/> is "SOMASNAP".</summary>
    public static void CheckMagic(ReadOnlySpan<byte> magic)
    {
        if (!magic.SequenceEqual(Magic))
        {
            throw new InvalidDataException("Not a Soma session snapshot: the stream does not start with 'SOMASNAP'.");
        }
    }

    /// <summary>
    /// Reads one section after its "SOMASNAP" magic: version and header first, checked against
    /// <paramref name="target"/>; only then the payload, into arrays of the target's size, and the checksum.
    /// <paramref name="requiredVersion"/>: the only version allowed here (a model snapshot's sections), or null for 1 or 2.
    /// </summary>
    public static SessionState ReadSection(Stream stream, SnapshotTarget target, uint? requiredVersion)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Magic);
        Span<byte> prefix = stackalloc byte[8];
        SnapshotBytes.ReadExactly(stream, prefix, "the snapshot prefix");
        hash.AppendData(prefix);
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        if (version != Version && version != LegacyVersion)
        {
            throw new InvalidDataException(
                $"Snapshot version {version} is not supported; this build reads versions {LegacyVersion} and {Version}.");
        }

        if (requiredVersion is { } required && version != required)
        {
            throw new InvalidDataException(required == LegacyVersion
                ? $"Layer {target.LayerIndex}: a version-{version} session snapshot where a model snapshot was expected; a model's starts with 'SOMAMODL' (load one session's snapshot with SomaSession.LoadState)."
                : $"Layer {target.LayerIndex}'s section is snapshot version {version}; a 'SOMAMODL' model snapshot holds version-{required} sections.");
        }

        uint headerLength = BinaryPrimitives.ReadUInt32LittleEndian(prefix[4..]);
        if (headerLength == 0 || headerLength > MaxHeaderBytes)
        {
            throw new InvalidDataException($"Snapshot header length {headerLength} is outside 1..{MaxHeaderBytes} bytes.");
        }

        var headerBytes = new byte[headerLength];
        SnapshotBytes.ReadExactly(stream, headerBytes, "the snapshot header");
        hash.AppendData(headerBytes);
        var header = Parse(headerBytes, version);
        header.CheckFits(target, version);

        // Sizes come from the target layer (equal to the header's, just checked), so a lying header allocates nothing.
        var o = target.Layer.Options;
        long ringElements = checked((long)target.RingRows * o.KvHeads * o.HeadDim);
        int channels = checked(o.KvHeads * o.HeadDim);
        var ringK = new float[ringElements];
        var ringV = new float[ringElements];
        var ringType = StorageTypes.Parse(header.RingDtype)!.Value;
        var units = new ushort[ringElements * StorageTypes.Units(ringType)];
        SnapshotBytes.Read<ushort>(stream, hash, units, "the snapshot's ring K");
        StorageTypes.Decode(units, ringK, ringType);
        SnapshotBytes.Read<ushort>(stream, hash, units, "the snapshot's ring V");
        StorageTypes.Decode(units, ringV, ringType);
        if (ringType != o.RingStorage)
        {
            // SnapshotOptions.ConvertRing (checked with the header): round once to the layer's type, here, so that a
            // value the layer's type cannot hold (past fp16's 65504) fails the finiteness check below.
            for (long i = 0; i < ringElements; i++)
            {
                ringK[i] = StorageTypes.Round(ringK[i], o.RingStorage);
                ringV[i] = StorageTypes.Round(ringV[i], o.RingStorage);
            }
        }
        var field = new double[channels];
        if (header.FieldDtype == SnapshotHeader.F64)
        {
            SnapshotBytes.Read<double>(stream, hash, field, "the snapshot's field");
        }
        else
        {
            var narrow = new float[channels];
            SnapshotBytes.Read<float>(stream, hash, narrow, "the snapshot's field");
            for (int i = 0; i < channels; i++)
            {
                field[i] = narrow[i];
            }
        }

        Span<byte> expected = stackalloc byte[ChecksumBytes];
        Span<byte> actual = stackalloc byte[ChecksumBytes];
        hash.GetHashAndReset(expected);
        SnapshotBytes.ReadExactly(stream, actual, "the snapshot checksum");
        if (!CryptographicOperations.FixedTimeEquals(expected, actual))
        {
            throw new InvalidDataException("The snapshot checksum does not match its contents: the data is corrupt.");
        }

        CheckValues<float>(ringK, "ring K", v => float.IsFinite(v));
        CheckValues<float>(ringV, "ring V", v => float.IsFinite(v));

        // The field is a convex mix of fp32 keys, so any value a session can hold lies within the fp32 range.
        CheckValues<double>(field, "field", v => Math.Abs(v) <= float.MaxValue);
        return new SessionState(header, ringK, ringV, field);
    }

    private static SnapshotHeader Parse(byte[] bytes, uint version)
    {
        try
        {
            return version == LegacyVersion
                ? (JsonSerializer.Deserialize<LegacyHeader>(bytes, Json) ?? throw new JsonException("the header is null")).ToCurrent()
                : JsonSerializer.Deserialize<SnapshotHeader>(bytes, Json) ?? throw new JsonException("the header is null");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The snapshot header is not a valid version-{version} header: {ex.Message}", ex);
        }
    }

    private static void CheckValues<T>(ReadOnlySpan<T> values, string what, Func<T, bool> valid)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (!valid(values[i]))
            {
                throw new InvalidDataException(
                    $"The snapshot's {what}[{i}] is {values[i]}; every value must be finite (the field within the fp32 range).");
            }
        }
    }

    /// <summary>A version-1 header: no layer identity, one dtype for ring and field.</summary>
    private sealed record LegacyHeader(
        string Kind, int ModelDim, int Heads, int KvHeads, int HeadDim, int Window, int RingRows, bool IncludeCurrent,
        double? RopeTheta, double Scale, string Dtype, long Position)
    {
        public SnapshotHeader ToCurrent() => new(
            Kind, ModelDim, Heads, KvHeads, HeadDim, Window, RingRows, IncludeCurrent, RopeTheta, Scale, Dtype, Dtype, Position,
            LayerIndex: null, WeightsSha256: null);
    }
}

/// <summary>What a snapshot section must fit: the layer, its index where known, and whether another layer's state may load.</summary>
/// <param name="Layer">The layer whose session receives the state.</param>
/// <param name="LayerIndex">The layer's index: its position in a model, or the caller's <see cref="SnapshotOptions.LayerIndex"/>.</param>
/// <param name="InModel">True for a model's section, whose index is its position in the stack and always checked.</param>
/// <param name="AllowOtherLayer"><see cref="SnapshotOptions.AllowOtherLayer"/>.</param>
/// <param name="ConvertRing"><see cref="SnapshotOptions.ConvertRing"/>: a ring of another storage type converts to the layer's.</param>
internal readonly record struct SnapshotTarget(SomaLayer Layer, int? LayerIndex, bool InModel, bool AllowOtherLayer, bool ConvertRing)
{
    /// <summary>Ring rows of one session of the layer: W for Soma, the KV capacity for the baseline.</summary>
    public int RingRows => Layer.KvCapacity ?? Layer.Options.Window;
}

/// <summary>One session's state as read from a snapshot and checked against its target.</summary>
internal sealed record SessionState(SnapshotHeader Header, float[] RingK, float[] RingV, double[] Field)
{
    /// <summary>
    /// Uploads states[i] into sessions[i] (claimed by the caller). If an upload fails, every session written so far
    /// gets back the state it had, so a load changes all of them or none.
    /// </summary>
    public static void UploadAll(IReadOnlyList<SomaSession> sessions, IReadOnlyList<SessionState> states)
    {
        var previous = new List<(float[] RingK, float[] RingV, double[] Field, long Position)>();
        try
        {
            for (int i = 0; i < sessions.Count; i++)
            {
                var (ringK, ringV, field) = sessions[i].DownloadState();
                previous.Add((ringK, ringV, field, sessions[i].Position));
                sessions[i].UploadState(states[i].RingK, states[i].RingV, states[i].Field, states[i].Header.Position);
            }
        }
        catch
        {
            for (int i = previous.Count - 1; i >= 0; i--)
            {
                sessions[i].UploadState(previous[i].RingK, previous[i].RingV, previous[i].Field, previous[i].Position);
            }

            throw;
        }
    }
}
