using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// The one owner of a device allocation. It reports its bytes to the engine's ledger while alive, so tests can show
/// that every path returns device memory to its baseline.
/// </summary>
internal sealed class DeviceBuffer<T> : IDisposable
    where T : unmanaged
{
    private readonly AllocationLedger ledger;
    private MemoryBuffer1D<T, Stride1D.Dense>? buffer;

    public DeviceBuffer(Accelerator accelerator, AllocationLedger ledger, long length)
    {
        this.ledger = ledger;
        Length = Math.Max(length, 1);
        buffer = accelerator.Allocate1D<T>(Length);
        Bytes = Length * Marshal.SizeOf<T>();
        ledger.Add(Bytes);
    }

    public long Length { get; }

    public long Bytes { get; }

    public ArrayView<T> View => (buffer ?? throw new ObjectDisposedException(nameof(DeviceBuffer<T>))).View;

    /// <summary>Copies host data into the buffer at <paramref name="offset"/> and waits for the copy.</summary>
    /// <remarks>The host memory is pinned for the copy: ILGPU copies from its address, which the GC must not move.</remarks>
    public unsafe void Upload(AcceleratorStream stream, ReadOnlySpan<T> data, long offset = 0)
    {
        if (data.Length == 0)
        {
            return;
        }

        fixed (T* pinned = data)
        {
            View.SubView(offset, data.Length).CopyFromCPU(stream, ref *pinned, data.Length);
        }
    }

    /// <summary>Copies the buffer from <paramref name="offset"/> into host memory and waits for the copy.</summary>
    /// <remarks>The host memory is pinned for the copy (see <see cref="Upload"/>).</remarks>
    public unsafe void Download(AcceleratorStream stream, Span<T> data, long offset = 0)
    {
        if (data.Length == 0)
        {
            return;
        }

        fixed (T* pinned = data)
        {
            View.SubView(offset, data.Length).CopyToCPU(stream, ref *pinned, data.Length);
        }
    }

    /// <summary>
    /// Enqueues a copy of the first <paramref name="count"/> values of <paramref name="source"/> into the buffer at
    /// <paramref name="offset"/> on <paramref name="stream"/> and returns at once. The host memory is page-locked, so
    /// a GPU copies it by DMA while kernels on other streams run; it must not change until the stream is synchronized.
    /// </summary>
    public void UploadAsync(AcceleratorStream stream, PageLockedArray1D<T> source, long count, long offset = 0)
    {
        if (count > 0)
        {
            View.SubView(offset, count).CopyFromCPUUnsafeAsync(stream, ref source[0L], count);
        }
    }

    /// <summary>
    /// Enqueues a copy of <paramref name="count"/> values from <paramref name="offset"/> into page-locked
    /// <paramref name="target"/> on <paramref name="stream"/> and returns at once; read the values only after the
    /// stream is synchronized.
    /// </summary>
    public void DownloadAsync(AcceleratorStream stream, PageLockedArray1D<T> target, long count, long offset = 0)
    {
        if (count > 0)
        {
            View.SubView(offset, count).CopyToCPUUnsafeAsync(stream, ref target[0L], count);
        }
    }

    public void Dispose()
    {
        if (buffer is null)
        {
            return;
        }

        buffer.Dispose();
        buffer = null;
        ledger.Remove(Bytes);
    }
}

/// <summary>Live device bytes and buffers of one engine.</summary>
internal sealed class AllocationLedger
{
    private long bytes;
    private long buffers;
    private long allocations;

    public long Bytes => Interlocked.Read(ref bytes);

    public long Buffers => Interlocked.Read(ref buffers);

    /// <summary>Device allocations made since the engine opened (tests: a decode step makes none).</summary>
    public long Allocations => Interlocked.Read(ref allocations);

    public void Add(long size)
    {
        Interlocked.Add(ref bytes, size);
        Interlocked.Increment(ref buffers);
        Interlocked.Increment(ref allocations);
    }

    public void Remove(long size)
    {
        Interlocked.Add(ref bytes, -size);
        Interlocked.Decrement(ref buffers);
    }
}
