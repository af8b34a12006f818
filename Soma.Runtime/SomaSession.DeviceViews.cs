using ILGPU;
using ILGPU.Runtime;
using Soma.Internal;

namespace Soma;

// Calls on device views: x and y already on the engine's accelerator (SomaEngine.Attach), no host copy of either.
public sealed partial class SomaSession
{
    /// <summary>
    /// <see cref="Decode(ReadOnlySpan{float}, Span{float})"/> on device views, for a caller whose own ILGPU kernels
    /// produce x and consume y on the engine's accelerator (SomaEngine.Attach): x [D] is read and y (its
    /// first D values) written in place, with no host copy of either. Runs on the same call path as the span
    /// overload and gives the same values, bit for bit.
    /// </summary>
    /// <remarks>
    /// Stream: the call's work runs on <paramref name="stream"/> when given, else on the layer's own stream. It does
    /// not wait for the caller's other streams: x must be complete before the call (enqueue its producer on
    /// <paramref name="stream"/>, or synchronize the producer's stream first). The call returns when its work is
    /// complete and committed (one host wait, at its end), so y can be read on any stream afterwards. A failed call
    /// (a launch, the wait) changes no session, as for the span overloads. The upload of the pass's metadata (3n + 5g
    /// ints for n rows of g sessions) is the call's only copy; <see cref="SomaEngineOptions.CheckFiniteInputs"/> does not apply (x is never read
    /// on the host). Bad views throw <see cref="ArgumentException"/> naming the argument before anything changes.
    /// </remarks>
    /// <param name="x">Input row [D] on the engine's accelerator.</param>
    /// <param name="y">Output on the engine's accelerator (at least D values): x itself (in place) or a view that does not overlap it.</param>
    /// <param name="stream">The stream to run on (of the engine's accelerator), or null for the layer's own.</param>
    public void Decode(ArrayView<float> x, ArrayView<float> y, AcceleratorStream? stream = null)
    {
        ThrowIfDisposed();
        var written = Guard.Views(x, y, Layer.Options.ModelDim, "[D]", Layer.Engine, stream);
        Layer.Run(self, oneRow, x, written, stream);
    }

    /// <summary>
    /// <see cref="Prefill(ReadOnlySpan{float}, Span{float})"/> on device views: x [n, D] and y (its first n * D values)
    /// on the engine's accelerator, used in place with no host copy. Long prompts run in passes of
    /// <see cref="SomaLayerOptions.MaxChunkTokens"/> rows on the call's stream. Stream, waiting and failure as for
    /// <see cref="Decode(ArrayView{float}, ArrayView{float}, AcceleratorStream?)"/>.
    /// </summary>
    /// <param name="x">Input rows [n, D] on the engine's accelerator.</param>
    /// <param name="y">Output on the engine's accelerator (at least n * D values): x itself (in place) or a view that does not overlap it.</param>
    /// <param name="stream">The stream to run on (of the engine's accelerator), or null for the layer's own.</param>
    public void Prefill(ArrayView<float> x, ArrayView<float> y, AcceleratorStream? stream = null)
    {
        ThrowIfDisposed();
        int rows = Guard.DeviceRows(x, Layer.Engine, Layer.Options.ModelDim);
        var written = Guard.Views(x, y, x.Length, $"[n={rows}, D={Layer.Options.ModelDim}], the length of x", Layer.Engine, stream);
        if (rows > 0)
        {
            Layer.Run(self, new[] { rows }, x, written, stream);
        }
    }
}
