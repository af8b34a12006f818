using System.Buffers.Binary;
using Soma.Internal;

namespace Soma;

/// <summary>
/// The on-stream form of a model session's state: a framed sequence of per-layer session snapshots, so that it
/// loads only into a model session of the same stack. Written by <see cref="SomaModelSession.SaveState"/>, read by
/// <see cref="SomaModelSession.LoadState(Stream, SnapshotOptions)"/>.
/// </summary>
/// <remarks>
/// Version 2 (written), little-endian: "SOMAMODL" | u32 2 | u32 layer count L | L sections, section l a whole
/// version-2 session snapshot (<see cref="SessionSnapshot"/>, with its own SHA-256) whose header records layer_index l
/// and the layer's weights_sha256 | end of stream. Version 1 (still read): L version-1 session snapshots, concatenated
/// (no frame, no identity: shapes, positions and the end of the stream are checked, swapped layers of one shape are not).
/// </remarks>
internal static class ModelSnapshot
{
    /// <summary>The version this build writes.</summary>
    public const uint Version = 2;

    /// <summary>The 8 bytes a version-2 model snapshot starts with.</summary>
    public static ReadOnlySpan<byte> Magic => "SOMAMODL"u8;

    /// <summary>Writes a version-2 model snapshot of the given per-layer states.</summary>
    public static void Write(Stream stream, IReadOnlyList<SomaSession> sessions, IReadOnlyList<(float[] RingK, float[] RingV, double[] Field, long Position)> states)
    {
        Span<byte> prefix = stackalloc byte[16];
        Magic.CopyTo(prefix);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix[8..], Version);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix[12..], (uint)sessions.Count);
        stream.Write(prefix);
        for (int l = 0; l < sessions.Count; l++)
        {
            var (ringK, ringV, field, position) = states[l];
            SessionSnapshot.Write(stream, SnapshotHeader.Of(sessions[l].Layer, position, l), ringK, ringV, field);
        }
    }

    /// <summary>
    /// Reads a whole model snapshot for <paramref name="layers"/> (the stream must hold exactly one) and checks
    /// every section, and that all are at one position, before returning. Throws <see cref="InvalidDataException"/>.
    /// </summary>
    public static SessionState[] Read(Stream stream, IReadOnlyList<SomaLayer> layers, bool allowOtherLayer, bool convertRing)
    {
        var states = new SessionState[layers.Count];
        Span<byte> magic = stackalloc byte[8];
        SnapshotBytes.ReadExactly(stream, magic, "the snapshot's magic");
        uint sectionVersion = SessionSnapshot.LegacyVersion;
        if (magic.SequenceEqual(Magic))
        {
            Span<byte> prefix = stackalloc byte[8];
            SnapshotBytes.ReadExactly(stream, prefix, "the model snapshot's prefix");
            uint version = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
            if (version != Version)
            {
                throw new InvalidDataException(
                    $"Model snapshot version {version} is not supported; this build reads version {Version} " +
                    "(and version 1: one version-1 session snapshot per layer, concatenated).");
            }

            uint count = BinaryPrimitives.ReadUInt32LittleEndian(prefix[4..]);
            if (count != layers.Count)
            {
                throw new InvalidDataException($"The model snapshot holds {count} layers; this model has {layers.Count}.");
            }

            sectionVersion = SessionSnapshot.Version;
            SnapshotBytes.ReadExactly(stream, magic, "layer 0's section");
        }

        for (int l = 0; l < layers.Count; l++)
        {
            if (l > 0)
            {
                SnapshotBytes.ReadExactly(stream, magic, $"layer {l}'s section");
            }

            SessionSnapshot.CheckMagic(magic);
            states[l] = SessionSnapshot.ReadSection(stream, new SnapshotTarget(layers[l], l, InModel: true, allowOtherLayer, convertRing), sectionVersion);
        }

        SnapshotBytes.ExpectEnd(stream);
        if (states.Select(s => s.Header.Position).Distinct().Count() != 1)
        {
            throw new InvalidDataException("The layers' snapshots are at different positions; they were not saved from one model session.");
        }

        return states;
    }
}
