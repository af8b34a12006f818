using ILGPU;
using ILGPU.Runtime;
using Soma.Internal;

namespace Soma;

/// <summary>
/// One sequence running through a <see cref="SomaLayer"/>: its ring of the W most recent keys and values, its field
/// state and its position, all in device memory of a fixed size. Prefill and decode advance it; a call that fails
/// leaves it exactly as it was. A session is used by one caller at a time: concurrent calls on the same session
/// throw <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class SomaSession : IDisposable
{
    private int busy;
    private bool disposed;

    internal SomaSession(SomaLayer layer, SomaSessionPool pool, int slot)
    {
        Layer = layer;
        Pool = pool;
        Slot = slot;
    }

    /// <summary>The layer this session runs through.</summary>
    public SomaLayer Layer { get; }

    /// <summary>The pool that holds this session's state.</summary>
    public SomaSessionPool Pool { get; }

    /// <summary>Tokens consumed so far: the absolute position of the next token.</summary>
    public long Position { get; internal set; }

    /// <summary>Device bytes of this session's state: the same at token 1 and at token 10^6.</summary>
    public long StateBytes => Layer.StateBytes;

    internal int Slot { get; }

    internal bool OwnsPool { get; set; }

    /// <summary>
    /// Runs n tokens x[n, D] (row-major) in parallel and returns y[n, D]; equal to n <see cref="Decode(ReadOnlySpan{float})"/> calls.
    /// Long prompts go through the device in chunks of <see cref="SomaLayerOptions.MaxChunkTokens"/> tokens.
    /// </summary>
    public float[] Prefill(ReadOnlySpan<float> x)
    {
        var y = new float[x.Length];
        Prefill(x, y);
        return y;
    }

    /// <summary>
    /// <see cref="Prefill(ReadOnlySpan{float})"/> into a caller-owned y[n, D] of x's length (no allocation of the
    /// output: reuse one buffer across calls in a serving loop).
    /// </summary>
    public void Prefill(ReadOnlySpan<float> x, Span<float> y)
    {
        int rows = CheckPrefill(x, y.Length);
        if (rows > 0)
        {
            Layer.Run(new[] { this }, new[] { rows }, x, y);
        }
    }

    /// <summary>
    /// <see cref="Prefill(ReadOnlySpan{float})"/> without blocking the caller: the call runs on the thread pool.
    /// Bad input throws here, before the task starts. Cancellation is observed before each device pass (chunks of
    /// <see cref="SomaLayerOptions.MaxChunkTokens"/>); a cancelled prefill leaves the session as it was and the task
    /// ends in <see cref="OperationCanceledException"/>.
    /// </summary>
    public Task<float[]> PrefillAsync(ReadOnlyMemory<float> x, CancellationToken cancellationToken = default)
    {
        int rows = CheckPrefill(x.Span, x.Length);
        return ThreadPoolCall.Run(x, rows, (n, input, y, token) => Layer.Run(new[] { this }, new[] { n }, input.Span, y, token), cancellationToken);
    }

    /// <summary><see cref="Decode(ReadOnlySpan{float})"/> without blocking the caller (see <see cref="PrefillAsync"/>).</summary>
    public Task<float[]> DecodeAsync(ReadOnlyMemory<float> x, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        Guard.Token(x.Span, Layer.Options.ModelDim, Layer.Options.ModelDim);
        return ThreadPoolCall.Run(x, 1, (n, input, y, token) => Layer.Run(new[] { this }, new[] { n }, input.Span, y, token), cancellationToken);
    }

    /// <summary>Runs one token x[D] and returns y[D].</summary>
    public float[] Decode(ReadOnlySpan<float> x)
    {
        var y = new float[x.Length];
        Decode(x, y);
        return y;
    }

    /// <summary><see cref="Decode(ReadOnlySpan{float})"/> into a caller-owned y[D].</summary>
    public void Decode(ReadOnlySpan<float> x, Span<float> y)
    {
        ThrowIfDisposed();
        Guard.Token(x, y.Length, Layer.Options.ModelDim);
        Layer.Run(new[] { this }, new[] { 1 }, x, y);
    }

    /// <summary>
    /// Writes this session's whole state (ring, field, position) to <paramref name="stream"/> as a versioned,
    /// checksummed snapshot of about <see cref="StateBytes"/> bytes. It can be restored into a session of a layer
    /// with the same shape on any accelerator (CPU, CUDA, OpenCL).
    /// </summary>
    public void SaveState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ThrowIfDisposed();
        if (!stream.CanWrite)
        {
            throw new ArgumentException("stream must be writable.", nameof(stream));
        }

        Claim();
        try
        {
            var (ringK, ringV, field) = DownloadState();
            SessionSnapshot.Write(stream, SnapshotHeader.Of(Layer, Position), ringK, ringV, field);
        }
        finally
        {
            Release();
        }
    }

    /// <summary>
    /// Replaces this session's state with a snapshot from <see cref="SaveState"/>. The whole snapshot is read and
    /// checked first (format, version, checksum, and that it was taken from a layer of the same shape and kind);
    /// a truncated, corrupt or mismatched snapshot throws <see cref="InvalidDataException"/> and changes nothing.
    /// </summary>
    public void LoadState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ThrowIfDisposed();
        var (header, ringK, ringV, field) = SessionSnapshot.Read(stream);
        header.CheckFits(Layer);
        Claim();
        try
        {
            UploadState(ringK, ringV, field, header.Position);
        }
        finally
        {
            Release();
        }
    }

    /// <summary>Forgets every token: position 0, empty ring, field 0.</summary>
    public void Reset()
    {
        ThrowIfDisposed();
        Claim();
        try
        {
            ClearSlot();
            Position = 0;
        }
        finally
        {
            Release();
        }
    }

    /// <summary>Returns the session's slot to its pool (and frees the pool if the session made its own).</summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        Pool.Close(this);
        if (OwnsPool)
        {
            Pool.Dispose();
        }
    }

    /// <summary>Copies the session's device state to the host: ring K, ring V ([W, Hkv, dh]) and the fp64 field ([Hkv, dh]).</summary>
    internal (float[] RingK, float[] RingV, double[] Field) DownloadState()
    {
        ThrowIfDisposed();
        var store = Pool.Store;
        var stream = Layer.Engine.Accelerator.DefaultStream;
        var ringK = new float[store.RingElements];
        var ringV = new float[store.RingElements];
        var field = new double[store.Channels];
        store.RingK.Download(stream, ringK, Slot * store.RingElements);
        store.RingV.Download(stream, ringV, Slot * store.RingElements);
        store.Field.Download(stream, field, (long)Slot * store.Channels);
        stream.Synchronize();
        return (ringK, ringV, field);
    }

    /// <summary>
    /// Replaces the session's device state with host arrays (ring K, ring V [W, Hkv, dh], fp64 field [Hkv, dh]) at
    /// <paramref name="position"/>. For tests and benchmarks that start mid-stream without running the prefix.
    /// </summary>
    internal void UploadState(ReadOnlySpan<float> ringK, ReadOnlySpan<float> ringV, ReadOnlySpan<double> field, long position)
    {
        ThrowIfDisposed();
        var store = Pool.Store;
        Guard.Length(ringK, store.RingElements, nameof(ringK), "[W, Hkv, dh]");
        Guard.Length(ringV, store.RingElements, nameof(ringV), "[W, Hkv, dh]");
        Guard.Length(field, store.Channels, nameof(field), "[Hkv, dh]");
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        var stream = Layer.Engine.Accelerator.DefaultStream;
        store.RingK.Upload(stream, ringK, Slot * store.RingElements);
        store.RingV.Upload(stream, ringV, Slot * store.RingElements);
        store.Field.Upload(stream, field, (long)Slot * store.Channels);
        stream.Synchronize();
        Position = position;
    }

    /// <summary>Checks a prefill's input and output lengths and values; returns its row count.</summary>
    private int CheckPrefill(ReadOnlySpan<float> x, int outputLength)
    {
        ThrowIfDisposed();
        return Guard.Rows(x, outputLength, Layer.Options.ModelDim);
    }

    internal void ThrowIfDisposed()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        Layer.ThrowIfDisposed();
    }

    internal void Claim()
    {
        if (Interlocked.Exchange(ref busy, 1) != 0)
        {
            throw new InvalidOperationException("This session is already in use by another call; a session serves one call at a time.");
        }
    }

    internal void Release() => Volatile.Write(ref busy, 0);

    /// <summary>
    /// Claims every session (after checking each is open), or none: when one is already in use, those claimed so far
    /// are released and the <see cref="InvalidOperationException"/> propagates.
    /// </summary>
    internal static List<SomaSession> ClaimAll(IEnumerable<SomaSession> sessions)
    {
        var claimed = new List<SomaSession>();
        try
        {
            foreach (var s in sessions)
            {
                s.ThrowIfDisposed();
                s.Claim();
                claimed.Add(s);
            }
        }
        catch
        {
            claimed.ForEach(s => s.Release());
            throw;
        }

        return claimed;
    }

    internal void ClearSlot()
    {
        var store = Pool.Store;
        var stream = Layer.Engine.Accelerator.DefaultStream;
        store.RingK.View.SubView(Slot * store.RingElements, store.RingElements).MemSetToZero(stream);
        store.RingV.View.SubView(Slot * store.RingElements, store.RingElements).MemSetToZero(stream);
        store.Field.View.SubView((long)Slot * store.Channels, store.Channels).MemSetToZero(stream);
        stream.Synchronize();
    }
}
