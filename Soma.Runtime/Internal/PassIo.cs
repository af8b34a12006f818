using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// One pass's input and output: device x [rows, D] and y [rows, D], and the page-locked host memory they travel
/// through, so that their copies run asynchronously on a stream (by DMA on a GPU) while other passes compute.
/// </summary>
/// <remarks>
/// The caller's spans are copied into and out of the page-locked arrays on the host; the device copies never touch
/// managed memory that the garbage collector could move.
/// </remarks>
internal sealed class PassIo : IDisposable
{
    private readonly PageLockedArray1D<float> hostX;
    private readonly PageLockedArray1D<float> hostY;

    public PassIo(SomaEngine engine, int rows, int modelDim)
    {
        long length = (long)rows * modelDim;
        if (length > Array.MaxLength)
        {
            throw new ArgumentException(
                $"A pass of {rows} rows of width {modelDim} exceeds {Array.MaxLength} values; lower maxChunkTokens.", nameof(rows));
        }

        try
        {
            X = engine.Allocate<float>(length);
            Y = engine.Allocate<float>(length);
            hostX = engine.Accelerator.AllocatePageLocked1D<float>(length, uninitialized: false);
            hostY = engine.Accelerator.AllocatePageLocked1D<float>(length, uninitialized: false);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Device input rows.</summary>
    public DeviceBuffer<float> X { get; } = null!;

    /// <summary>Device output rows.</summary>
    public DeviceBuffer<float> Y { get; } = null!;

    /// <summary>Copies <paramref name="x"/> into page-locked memory and enqueues its upload into <see cref="X"/>.</summary>
    public void Upload(AcceleratorStream stream, ReadOnlySpan<float> x)
    {
        x.CopyTo(hostX.Span);
        X.UploadAsync(stream, hostX, x.Length);
    }

    /// <summary>Enqueues the download of the first <paramref name="count"/> values of <see cref="Y"/> into page-locked memory.</summary>
    public void Download(AcceleratorStream stream, int count) => Y.DownloadAsync(stream, hostY, count);

    /// <summary>Copies the downloaded rows into <paramref name="y"/>; call after the download's stream is synchronized.</summary>
    public void CopyOut(Span<float> y) => hostY.Span[..y.Length].CopyTo(y);

    public void Dispose()
    {
        X?.Dispose();
        Y?.Dispose();
        hostX?.Dispose();
        hostY?.Dispose();
    }
}
