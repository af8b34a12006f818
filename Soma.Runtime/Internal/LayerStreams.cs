using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// A layer's own accelerator streams: one for its kernels and one each for uploads and downloads, so a long call's
/// copies overlap its kernels and calls on different layers overlap each other where the backend allows it (CUDA:
/// non-blocking streams; the CPU accelerator runs them one after another).
/// </summary>
internal sealed class LayerStreams : IDisposable
{
    private readonly List<AcceleratorStream> owned = new();

    public LayerStreams(Accelerator accelerator)
    {
        try
        {
            Compute = Own(accelerator.CreateStream());
            Upload = Own(accelerator.CreateStream());
            Download = Own(accelerator.CreateStream());
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Kernels, metadata uploads and the commit, in pass order.</summary>
    public AcceleratorStream Compute { get; } = null!;

    /// <summary>Uploads of the next pass's input while the current pass computes.</summary>
    public AcceleratorStream Upload { get; } = null!;

    /// <summary>Downloads of the previous pass's output while the current pass computes.</summary>
    public AcceleratorStream Download { get; } = null!;

    /// <summary>
    /// Waits for every stream, whatever an earlier failure left enqueued, so no copy is still writing when the caller
    /// restores state or releases memory. Called on a failure path: errors the streams report here are dropped, the
    /// failure being handled propagates.
    /// </summary>
    /// <param name="call">The failed call's stream when it is not one of these (a model's first layer's, the caller's), or null.</param>
    public void Drain(AcceleratorStream? call)
    {
        foreach (var stream in call is null || owned.Contains(call) ? owned : owned.Append(call))
        {
            try
            {
                stream.Synchronize();
            }
            catch (Exception)
            {
                // The original failure is the one to report.
            }
        }
    }

    public void Dispose()
    {
        foreach (var stream in owned)
        {
            stream.Dispose();
        }

        owned.Clear();
    }

    private AcceleratorStream Own(AcceleratorStream stream)
    {
        owned.Add(stream);
        return stream;
    }
}
