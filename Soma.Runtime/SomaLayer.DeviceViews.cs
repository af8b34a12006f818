using ILGPU;
using ILGPU.Runtime;
using Soma.Internal;
using Soma.Kernels;

namespace Soma;

// Batch calls on device views: x and y already on the engine's accelerator (SomaEngine.Attach), no host copy of either.
public sealed partial class SomaLayer
{
    /// <summary>
    /// <see cref="DecodeBatch(IReadOnlyList{SomaSession}, ReadOnlySpan{float}, Span{float})"/> on device views: x [B, D]
    /// and y (at least B * D; only the first B * D written) live on the engine's accelerator and are used in place,
    /// with no host copy. Stream, waiting and failure as for
    /// <see cref="SomaSession.Decode(ArrayView{float}, ArrayView{float}, AcceleratorStream?)"/>.
    /// </summary>
    /// <param name="sessions">The batch: distinct, open sessions of this layer, from one pool.</param>
    /// <param name="x">Input rows [B, D] on the engine's accelerator.</param>
    /// <param name="y">Output rows on the engine's accelerator: x itself (in place) or a view that does not overlap it.</param>
    /// <param name="stream">The stream to run on (of the engine's accelerator), or null for the layer's own.</param>
    public void DecodeBatch(IReadOnlyList<SomaSession> sessions, ArrayView<float> x, ArrayView<float> y, AcceleratorStream? stream = null)
    {
        CheckBatch(sessions);
        var written = Guard.Views(x, y, (long)sessions.Count * Options.ModelDim, "[B, D]", Engine, stream);
        Run(sessions, decodeRows.For(sessions.Count), x, written, stream);
    }

    /// <summary>
    /// <see cref="PrefillBatch(IReadOnlyList{SomaSession}, IReadOnlyList{int}, ReadOnlySpan{float}, Span{float})"/> on
    /// device views (x [sum(lengths), D], y at least as long), used in place with no host copy. Stream, waiting and
    /// failure as for <see cref="SomaSession.Decode(ArrayView{float}, ArrayView{float}, AcceleratorStream?)"/>.
    /// </summary>
    /// <param name="sessions">The batch: distinct, open sessions of this layer, from one pool.</param>
    /// <param name="lengths">Rows of x per session.</param>
    /// <param name="x">Input rows [sum(lengths), D] on the engine's accelerator.</param>
    /// <param name="y">Output rows on the engine's accelerator: x itself (in place) or a view that does not overlap it.</param>
    /// <param name="stream">The stream to run on (of the engine's accelerator), or null for the layer's own.</param>
    public void PrefillBatch(
        IReadOnlyList<SomaSession> sessions, IReadOnlyList<int> lengths, ArrayView<float> x, ArrayView<float> y, AcceleratorStream? stream = null)
    {
        CheckBatch(sessions);
        long total = Guard.Lengths(lengths, sessions.Count);
        var written = Guard.Views(x, y, total * Options.ModelDim, $"[sum(lengths)={total}, D={Options.ModelDim}]", Engine, stream);
        if (total > 0)
        {
            Run(sessions, lengths.ToArray(), x, written, stream);
        }
    }
}
