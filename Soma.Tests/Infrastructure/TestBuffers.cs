using Soma.Internal;

namespace Soma.Tests.Infrastructure;

/// <summary>Device buffers a kernel test makes, uploads and downloads on an engine's default stream; all freed on dispose.</summary>
/// <param name="engine">The engine whose accelerator (and allocation ledger) holds them.</param>
internal sealed class TestBuffers(SomaEngine engine) : IDisposable
{
    private readonly List<IDisposable> buffers = new();

    /// <summary>A new buffer of <paramref name="length"/> elements (contents undefined).</summary>
    public DeviceBuffer<T> Alloc<T>(long length)
        where T : unmanaged
    {
        var buffer = engine.Allocate<T>(length);
        buffers.Add(buffer);
        return buffer;
    }

    /// <summary>A new buffer holding <paramref name="data"/>.</summary>
    public DeviceBuffer<T> Upload<T>(T[] data)
        where T : unmanaged
    {
        var buffer = Alloc<T>(data.Length);
        buffer.Upload(engine.Accelerator.DefaultStream, data);
        return buffer;
    }

    /// <summary>The contents of <paramref name="buffer"/>, after everything enqueued on the default stream.</summary>
    public T[] Download<T>(DeviceBuffer<T> buffer)
        where T : unmanaged
    {
        var data = new T[buffer.Length];
        buffer.Download(engine.Accelerator.DefaultStream, data);
        engine.Accelerator.DefaultStream.Synchronize();
        return data;
    }

    /// <summary>Frees every buffer made here.</summary>
    public void Dispose()
    {
        buffers.ForEach(b => b.Dispose());
        buffers.Clear();
    }
}
