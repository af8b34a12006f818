using ILGPU;
using ILGPU.Runtime;
using Soma.Internal;

namespace Soma;

/// <summary>
/// One sequence running through a <see cref="SomaLayer"/>: its ring of the W most recent keys and values, its field
/// state and its position, all in device memory of a fixed size. Prefill and decode advance it; a call that fails
/// leaves it exactly as it was. A session is used by one caller at a time: every call claims the session before it
/// waits for anything, so a call that overlaps another on the same session throws
/// <see cref="InvalidOperationException"/> at once.
/// </summary>
/// <remarks>
/// Lifetime: <see cref="Dispose"/> never waits and never frees memory a call is using. Disposing an idle session
/// returns its slot at once; disposing a session during a call marks it disposed, and its slot goes back to the
/// pool when that call has committed or rolled back. A call that has not yet entered its layer when the session is
/// disposed ends in <see cref="ObjectDisposedException"/>; one already running finishes. A reopened slot is
/// cleared before the new session sees it.
/// </remarks>
public sealed partial class SomaSession : IDisposable
{
    private readonly object sync = new();
    private readonly SomaSession[] self;
    private readonly int[] oneRow = { 1 };
    private bool busy;
    private volatile bool disposed;
    private bool closed;

    /// <summary>
    /// The largest position a session reaches (2^32 tokens); a call that would pass it throws
    /// <see cref="InvalidOperationException"/> instead of wrapping. Up to it, the RoPE angle p·f formed and reduced
    /// mod 2π in double stays within about 1e-6 rad of exact, and every position, ring index and p + n stays far
    /// inside long arithmetic.
    /// </summary>
    public const long MaxPosition = 1L << 32;

    internal SomaSession(SomaLayer layer, SomaSessionPool pool, int slot)
    {
        Layer = layer;
        Pool = pool;
        Slot = slot;
        self = new[] { this };
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
    /// <see cref="Prefill(ReadOnlySpan{float})"/> into a caller-owned y (no allocation of the output: reuse one
    /// buffer across calls in a serving loop). y may be longer than x: only its first n * D floats are written and
    /// the rest is left as it was; a shorter y throws <see cref="ArgumentException"/> naming y and the length needed.
    /// </summary>
    public void Prefill(ReadOnlySpan<float> x, Span<float> y)
    {
        int rows = CheckPrefill(x, y.Length);
        if (rows > 0)
        {
            Layer.Run(new[] { this }, new[] { rows }, x, y[..x.Length]);
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
        Guard.Token(x.Span, Layer.Options.ModelDim, Layer.Options.ModelDim, Layer.Engine.Options.CheckFiniteInputs);
        return ThreadPoolCall.Run(x, 1, (n, input, y, token) => Layer.Run(new[] { this }, new[] { n }, input.Span, y, token), cancellationToken);
    }

    /// <summary>Runs one token x[D] and returns y[D].</summary>
    public float[] Decode(ReadOnlySpan<float> x)
    {
        var y = new float[x.Length];
        Decode(x, y);
        return y;
    }

    /// <summary>
    /// <see cref="Decode(ReadOnlySpan{float})"/> into a caller-owned y of at least D floats: only its first D are
    /// written and the rest is left as it was; a shorter y throws <see cref="ArgumentException"/> naming y and D.
    /// </summary>
    public void Decode(ReadOnlySpan<float> x, Span<float> y)
    {
        ThrowIfDisposed();
        Guard.Token(x, y.Length, Layer.Options.ModelDim, Layer.Engine.Options.CheckFiniteInputs);
        Layer.Run(self, oneRow, x, y[..x.Length]);
    }

    /// <summary>
    /// Writes this session's whole state (ring, field, position) to <paramref name="stream"/> as a versioned,
    /// checksummed snapshot of about <see cref="StateBytes"/> bytes that records the layer's shape and a SHA-256 of
    /// its weights. It can be restored into a session of a layer with the same shape and weights on any accelerator
    /// (CPU, CUDA, OpenCL). The state is copied to the host first: a save that fails there writes nothing.
    /// </summary>
    public void SaveState(Stream stream) => SaveState(stream, SnapshotOptions.Default);

    /// <summary>
    /// <see cref="SaveState(Stream)"/>, recording <see cref="SnapshotOptions.LayerIndex"/> as the layer's index.
    /// </summary>
    public void SaveState(Stream stream, SnapshotOptions options)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfDisposed();
        if (!stream.CanWrite)
        {
            throw new ArgumentException("stream must be writable.", nameof(stream));
        }

        Claim();
        (float[] RingK, float[] RingV, double[] Field) state;
        long position;
        try
        {
            state = DownloadState();
            position = Position;
        }
        finally
        {
            Release();
        }

        SessionSnapshot.Write(stream, SnapshotHeader.Of(Layer, position, options.LayerIndex), state.RingK, state.RingV, state.Field);
    }

    /// <summary>
    /// Replaces this session's state with a snapshot from <see cref="SaveState(Stream)"/> (version 2, or version 1 from
    /// earlier builds). The stream must hold exactly one snapshot. Its header is checked against this layer (kind,
    /// shape, storage types, position within 0..<see cref="MaxPosition"/>, and for version 2 the weights' SHA-256)
    /// before any payload is read, then the payload (finite values) and checksum: a truncated, corrupt, foreign or
    /// out-of-range snapshot throws <see cref="InvalidDataException"/> and changes nothing.
    /// </summary>
    public void LoadState(Stream stream) => LoadState(stream, SnapshotOptions.Default);

    /// <summary>
    /// <see cref="LoadState(Stream)"/> with a layer index to check (<see cref="SnapshotOptions.LayerIndex"/>) or, with
    /// <see cref="SnapshotOptions.AllowOtherLayer"/>, accepting a snapshot of another layer of the same shape.
    /// </summary>
    public void LoadState(Stream stream, SnapshotOptions options)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfDisposed();
        var state = SessionSnapshot.Read(stream, new SnapshotTarget(Layer, options.LayerIndex, InModel: false, options.AllowOtherLayer, options.ConvertRing));
        Claim();
        try
        {
            SessionState.UploadAll(new[] { this }, new[] { state });
        }
        finally
        {
            Release();
        }

        Log.SnapshotLoaded(Layer.Engine.LayerLogger, state.Header.Position, 1);
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

    /// <summary>
    /// Returns the session's slot to its pool (and frees the pool if the session made its own): at once when no call
    /// holds the session, else when that call ends. Never throws and never waits; later calls throw
    /// <see cref="ObjectDisposedException"/>.
    /// </summary>
    public void Dispose()
    {
        lock (sync)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            if (busy)
            {
                return; // the call holding the session closes it in Release
            }

            closed = true;
        }

        Close();
    }

    /// <summary>Copies the session's device state to the host: ring K, ring V ([W, Hkv, dh], widened exactly from the ring's storage type) and the fp64 field ([Hkv, dh]).</summary>
    internal (float[] RingK, float[] RingV, double[] Field) DownloadState()
    {
        ThrowIfDisposed();
        var store = Pool.Store;
        var stream = Layer.Engine.Accelerator.DefaultStream;
        var ringK = new float[store.RingElements];
        var ringV = new float[store.RingElements];
        var field = new double[store.Channels];
        var rawK = new ushort[store.RingElements * store.Units];
        var rawV = new ushort[rawK.Length];
        store.RingK.Download(stream, rawK, Slot * rawK.LongLength);
        store.RingV.Download(stream, rawV, Slot * rawV.LongLength);
        store.Field.Download(stream, field, (long)Slot * store.Channels);
        stream.Synchronize();
        StorageTypes.Decode(rawK, ringK, store.RingType);
        StorageTypes.Decode(rawV, ringV, store.RingType);
        return (ringK, ringV, field);
    }

    /// <summary>
    /// Replaces the session's device state with host arrays (ring K, ring V [W, Hkv, dh], rounded to the ring's storage type; fp64 field [Hkv, dh]) at
    /// <paramref name="position"/> (0..<see cref="MaxPosition"/>). Used by snapshots, and by tests and benchmarks that
    /// start mid-stream without running the prefix.
    /// </summary>
    internal void UploadState(ReadOnlySpan<float> ringK, ReadOnlySpan<float> ringV, ReadOnlySpan<double> field, long position)
    {
        ThrowIfDisposed();
        var store = Pool.Store;
        Guard.Length(ringK, store.RingElements, nameof(ringK), "[W, Hkv, dh]");
        Guard.Length(ringV, store.RingElements, nameof(ringV), "[W, Hkv, dh]");
        Guard.Length(field, store.Channels, nameof(field), "[Hkv, dh]");
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(position, MaxPosition);
        var rawK = new ushort[store.RingElements * store.Units];
        var rawV = new ushort[rawK.Length];
        StorageTypes.Encode(ringK, rawK, store.RingType);
        StorageTypes.Encode(ringV, rawV, store.RingType);
        var stream = Layer.Engine.Accelerator.DefaultStream;
        store.RingK.Upload(stream, rawK, Slot * rawK.LongLength);
        store.RingV.Upload(stream, rawV, Slot * rawV.LongLength);
        store.Field.Upload(stream, field, (long)Slot * store.Channels);
        stream.Synchronize();
        Position = position;
    }

    /// <summary>Checks a prefill's input and output lengths and values; returns its row count.</summary>
    private int CheckPrefill(ReadOnlySpan<float> x, int outputLength)
    {
        ThrowIfDisposed();
        return Guard.Rows(x, outputLength, Layer.Options.ModelDim, Layer.Engine.Options.CheckFiniteInputs);
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> naming the engine, the layer or this session, in that order.</summary>
    internal void ThrowIfDisposed()
    {
        Layer.ThrowIfDisposed();
        ObjectDisposedException.ThrowIf(disposed, this);
    }

    /// <summary>
    /// Takes the session for one call, without waiting: throws <see cref="ObjectDisposedException"/> when it (or its
    /// engine) is disposed and <see cref="InvalidOperationException"/> when another call holds it. Until
    /// <see cref="Release"/> the session's slot and pool memory and the engine's accelerator stay alive.
    /// </summary>
    internal void Claim()
    {
        lock (sync)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (busy)
            {
                throw new InvalidOperationException("This session is already in use by another call; a session serves one call at a time.");
            }

            Layer.Engine.BeginClaim();
            busy = true;
        }
    }

    /// <summary>
    /// Ends a call's claim, after its device work has committed or rolled back; closes the session if it was disposed
    /// during the call. Never throws.
    /// </summary>
    internal void Release()
    {
        bool close;
        lock (sync)
        {
            busy = false;
            close = disposed && !closed;
            closed |= close;
        }

        try
        {
            if (close)
            {
                Close();
            }
        }
        finally
        {
            Layer.Engine.EndClaim();
        }
    }

    /// <summary>Returns the slot to the pool (and frees an own pool): once, when disposed and no call holds the session.</summary>
    private void Close()
    {
        Pool.Close(this);
        if (OwnsPool)
        {
            Pool.Dispose();
        }
    }

    internal void ClearSlot()
    {
        var store = Pool.Store;
        var stream = Layer.Engine.Accelerator.DefaultStream;
        store.Rows(store.RingK, Slot, 0, store.RingElements / store.Channels).MemSetToZero(stream);
        store.Rows(store.RingV, Slot, 0, store.RingElements / store.Channels).MemSetToZero(stream);
        store.Field.View.SubView((long)Slot * store.Channels, store.Channels).MemSetToZero(stream);
        stream.Synchronize();
    }
}
