namespace Soma;

/// <summary>
/// How a session snapshot names and checks the layer it belongs to (<see cref="SomaSession.SaveState(Stream, SnapshotOptions)"/>,
/// <see cref="SomaSession.LoadState(Stream, SnapshotOptions)"/>, <see cref="SomaModelSession.LoadState(Stream, SnapshotOptions)"/>).
/// Validated when constructed.
/// </summary>
/// <remarks>
/// Every snapshot records a SHA-256 of the weights it was taken with; a load into a layer with other weights, or
/// into a layer of another index, throws <see cref="InvalidDataException"/> unless <see cref="AllowOtherLayer"/> is set.
/// The shape (widths, heads, window, RoPE, scale, kind) must match in every case.
/// </remarks>
public sealed record SnapshotOptions
{
    private readonly int? layerIndex;

    /// <summary>No layer index, no exception to the identity check.</summary>
    public static SnapshotOptions Default { get; } = new();

    /// <summary>
    /// For a session of a standalone layer: the index of that layer in the model its weights came from (e.g.
    /// <c>soma run --layer</c>). Saving records it; loading a snapshot that records another index is refused (unless
    /// <see cref="AllowOtherLayer"/>). Null: none recorded, none checked. A model session's layers are indexed by
    /// their position, so its calls take no index. Must be &gt;= 0.
    /// </summary>
    public int? LayerIndex
    {
        get => layerIndex;
        init
        {
            if (value is < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(LayerIndex), value, "LayerIndex must be >= 0 (or null).");
            }

            layerIndex = value;
        }
    }

    /// <summary>
    /// Load a snapshot taken from another layer of the same shape (other weights, another layer index), for a user
    /// who means it, e.g. to carry a conversation over to fine-tuned weights. Off by default.
    /// </summary>
    public bool AllowOtherLayer { get; init; }

    /// <summary>
    /// Load a snapshot whose ring is stored in another type than the layer's <see cref="SomaLayerOptions.RingStorage"/>
    /// (its header's ring_dtype), converting every key and value: widening (fp16 or bf16 to fp32) is exact, narrowing
    /// rounds to nearest even, and fp16 and bf16 convert through fp32. Off by default: a snapshot of another ring
    /// type is refused with <see cref="InvalidDataException"/>, so no state is rounded unasked.
    /// </summary>
    public bool ConvertRing { get; init; }
}
