using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Soma;

namespace Soma.Tests.Infrastructure;

/// <summary>
/// Takes snapshot bytes apart and builds them the way a forger would: any header JSON and payload, with a recomputed
/// SHA-256; also the version-1 layout of earlier builds, written from a session's state.
/// </summary>
public static class SnapshotForge
{
    /// <summary>One session section: its version, header and payload (ring K, ring V, field).</summary>
    public sealed record Section(uint Version, JsonObject Header, byte[] Payload);

    /// <summary>Parses the session section at <paramref name="offset"/>; returns it and its length in bytes.</summary>
    public static (Section Section, int Length) ParseAt(byte[] bytes, int offset = 0)
    {
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 8));
        int headerLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset + 12));
        var header = JsonNode.Parse(bytes.AsSpan(offset + 16, headerLength))!.AsObject();
        long channels = (long)header["kv_heads"]!.GetValue<int>() * header["head_dim"]!.GetValue<int>();
        int fieldBytes = version == 1 ? 4 : 8;
        int payload = (int)(2 * header["ring_rows"]!.GetValue<int>() * channels * 4 + channels * fieldBytes);
        var section = new Section(version, header, bytes.AsSpan(offset + 16 + headerLength, payload).ToArray());
        return (section, 16 + headerLength + payload + 32);
    }

    /// <summary>A session section from a header and payload, with a freshly computed checksum.</summary>
    public static byte[] Build(JsonObject header, byte[] payload, uint version = 2) =>
        Build(header.ToJsonString(), payload, version);

    /// <summary>A session section from raw header text (for duplicate keys) and payload, with a freshly computed checksum.</summary>
    public static byte[] Build(string header, byte[] payload, uint version = 2)
    {
        var headerBytes = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[16 + headerBytes.Length + payload.Length + 32];
        "SOMASNAP"u8.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), version);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), (uint)headerBytes.Length);
        headerBytes.CopyTo(bytes, 16);
        payload.CopyTo(bytes, 16 + headerBytes.Length);
        SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32), bytes.AsSpan(bytes.Length - 32));
        return bytes;
    }

    /// <summary>The sections of a version-2 model snapshot ("SOMAMODL" | u32 2 | u32 L | L sections).</summary>
    public static List<byte[]> ModelSections(byte[] model)
    {
        var sections = new List<byte[]>();
        for (int offset = 16; offset < model.Length;)
        {
            int length = ParseAt(model, offset).Length;
            sections.Add(model.AsSpan(offset, length).ToArray());
            offset += length;
        }

        return sections;
    }

    /// <summary>A version-2 model frame around <paramref name="sections"/>, claiming <paramref name="count"/> layers.</summary>
    public static byte[] ModelFrame(IReadOnlyList<byte[]> sections, uint count)
    {
        var prefix = new byte[16];
        "SOMAMODL"u8.CopyTo(prefix);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(8), 2);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(12), count);
        return prefix.Concat(sections.SelectMany(s => s)).ToArray();
    }

    /// <summary>The session's snapshot as <see cref="SomaSession.SaveState(Stream)"/> writes it.</summary>
    public static byte[] Save(SomaSession session)
    {
        using var stream = new MemoryStream();
        session.SaveState(stream);
        return stream.ToArray();
    }

    /// <summary>The session's state in the version-1 layout (header without identity, fp32 field), as earlier builds wrote it.</summary>
    public static byte[] Legacy(SomaSession session)
    {
        var o = session.Layer.Options;
        var (ringK, ringV, field) = session.DownloadState();
        var header = new JsonObject
        {
            ["kind"] = session.Layer.IsStandardAttention ? "standard" : "soma",
            ["model_dim"] = o.ModelDim,
            ["heads"] = o.Heads,
            ["kv_heads"] = o.KvHeads,
            ["head_dim"] = o.HeadDim,
            ["window"] = o.Window,
            ["ring_rows"] = session.Layer.KvCapacity ?? o.Window,
            ["include_current"] = o.IncludeCurrent,
            ["rope_theta"] = o.RopeTheta,
            ["scale"] = o.Scale,
            ["dtype"] = "f32",
            ["position"] = session.Position,
        };
        return Build(header, Floats(ringK).Concat(Floats(ringV)).Concat(Floats(Array.ConvertAll(field, v => (float)v))).ToArray(), version: 1);
    }

    /// <summary>Little-endian bytes of fp32 values.</summary>
    public static byte[] Floats(float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }
}
