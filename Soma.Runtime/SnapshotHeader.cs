using Soma.Internal;

namespace Soma;

/// <summary>
/// The self-describing part of a session snapshot (JSON, snake_case keys, every key required, no other key, none
/// twice): the layer's kind and shape, the storage types, the position and the layer's identity.
/// </summary>
/// <param name="Kind">"soma", or "standard" for the standard-attention baseline.</param>
/// <param name="ModelDim">D.</param>
/// <param name="Heads">H.</param>
/// <param name="KvHeads">Hkv.</param>
/// <param name="HeadDim">dh.</param>
/// <param name="Window">W.</param>
/// <param name="RingRows">Ring rows per session: W, or the baseline's KV capacity.</param>
/// <param name="IncludeCurrent">The window mode.</param>
/// <param name="RopeTheta">RoPE base, or null.</param>
/// <param name="Scale">Softmax scale.</param>
/// <param name="RingDtype">Storage type of the ring: "f32", "f16" or "bf16" (<see cref="SomaLayerOptions.RingStorage"/>; version 1: "f32").</param>
/// <param name="FieldDtype">Storage type of the field: "f64" (version 2) or "f32" (version 1).</param>
/// <param name="Position">Tokens consumed, 0..<see cref="SomaSession.MaxPosition"/>.</param>
/// <param name="LayerIndex">The layer's index in its model, or null when not known.</param>
/// <param name="WeightsSha256">Lower-case hex SHA-256 of the layer's weights; null only in a version-1 snapshot.</param>
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
    string RingDtype,
    string FieldDtype,
    long Position,
    int? LayerIndex,
    string? WeightsSha256)
{
    /// <summary>The fp32 storage type's name.</summary>
    public const string F32 = "f32";

    /// <summary>The fp64 storage type's name.</summary>
    public const string F64 = "f64";

    /// <summary>The header of a version-2 snapshot of a session of <paramref name="layer"/>.</summary>
    public static SnapshotHeader Of(SomaLayer layer, long position, int? layerIndex)
    {
        var o = layer.Options;
        return new SnapshotHeader(
            layer.IsStandardAttention ? "standard" : "soma", o.ModelDim, o.Heads, o.KvHeads, o.HeadDim, o.Window,
            layer.KvCapacity ?? o.Window, o.IncludeCurrent, o.RopeTheta, o.Scale, StorageTypes.Name(o.RingStorage), F64, position, layerIndex, layer.WeightsSha256);
    }

    /// <summary>
    /// Every check that needs no payload: storage types, that the state means the same thing in the target's layer
    /// (kind and every shape field), the position's range and the layer's identity (skipped for a version-1 header,
    /// which records none). Throws <see cref="InvalidDataException"/>.
    /// </summary>
    public void CheckFits(SnapshotTarget target, uint version)
    {
        bool legacy = version == SessionSnapshot.LegacyVersion;
        string field = legacy ? F32 : F64;
        if (StorageTypes.Parse(RingDtype) is not { } ring || RingDtype != StorageTypes.Name(ring) || (legacy && ring != SomaStorageType.Float32)
            || FieldDtype != field)
        {
            throw new InvalidDataException(
                $"Snapshot storage types ring '{RingDtype}', field '{FieldDtype}' are not supported; expected ring 'f32', 'f16' or 'bf16' (version 1: 'f32'), field '{field}'.");
        }

        var layer = target.Layer;
        if (ring != layer.Options.RingStorage && !target.ConvertRing)
        {
            throw new InvalidDataException(
                $"The snapshot's ring is stored as '{RingDtype}'; this layer's ring as '{StorageTypes.Name(layer.Options.RingStorage)}'. " +
                "Pass SnapshotOptions { ConvertRing = true } to convert it on load (narrowing rounds to nearest even).");
        }

        var mine = Of(layer, Position, LayerIndex);
        var differences = new List<string>();
        void Compare<T>(string name, T snapshot, T layerValue)
        {
            if (!EqualityComparer<T>.Default.Equals(snapshot, layerValue))
            {
                differences.Add($"{name} {snapshot} vs {layerValue}");
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

        if (Position < 0 || Position > SomaSession.MaxPosition)
        {
            throw new InvalidDataException($"The snapshot's position {Position} is outside 0..{SomaSession.MaxPosition} (SomaSession.MaxPosition).");
        }

        if (layer.KvCapacity is { } capacity && Position > capacity)
        {
            throw new InvalidDataException($"The snapshot's position {Position} exceeds this layer's KV capacity {capacity}.");
        }

        CheckIdentity(target, legacy);
    }

    private void CheckIdentity(SnapshotTarget target, bool legacy)
    {
        if (LayerIndex is < 0)
        {
            throw new InvalidDataException($"The snapshot's layer index {LayerIndex} is negative.");
        }

        if (!legacy && !(WeightsSha256 is { Length: 64 } hex && hex.All(char.IsAsciiHexDigitLower)))
        {
            throw new InvalidDataException("The snapshot's weights_sha256 is not 64 lower-case hex digits.");
        }

        if (target.InModel && LayerIndex != target.LayerIndex && !legacy)
        {
            throw new InvalidDataException(
                $"Section {target.LayerIndex} of the model snapshot holds layer {LayerIndex?.ToString() ?? "(none)"}: the layers are out of order or from another stack.");
        }

        if (target.AllowOtherLayer)
        {
            return;
        }

        if (LayerIndex is { } saved && target.LayerIndex is { } expected && saved != expected)
        {
            throw new InvalidDataException(
                $"The snapshot was taken from layer {saved}; this is layer {expected}. Pass SnapshotOptions {{ AllowOtherLayer = true }} to load it anyway.");
        }

        if (!legacy && WeightsSha256 != target.Layer.WeightsSha256)
        {
            throw new InvalidDataException(
                $"The snapshot was taken with other weights (SHA-256 {LayerIdentity.Short(WeightsSha256!)} vs this layer's " +
                $"{LayerIdentity.Short(target.Layer.WeightsSha256)}). Pass SnapshotOptions {{ AllowOtherLayer = true }} to load it anyway.");
        }
    }
}
