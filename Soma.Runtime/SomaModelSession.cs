using ILGPU;
using ILGPU.Runtime;
using Soma.Internal;

namespace Soma;

/// <summary>One sequence through a <see cref="SomaModel"/>: a <see cref="SomaSession"/> in every layer, advanced together.</summary>
public sealed class SomaModelSession : IDisposable
{
    private readonly SomaModelSession[] self;
    private readonly int[] oneRow = { 1 };

    internal SomaModelSession(SomaModel model, SomaSession[] sessions)
    {
        Model = model;
        Sessions = sessions;
        self = new[] { this };
        var perLayer = new IReadOnlyList<SomaSession>[sessions.Length];
        for (int l = 0; l < sessions.Length; l++)
        {
            perLayer[l] = new[] { sessions[l] };
        }

        PerLayer = new CallSessions(perLayer);
    }

    /// <summary>The model this sequence runs through.</summary>
    public SomaModel Model { get; }

    /// <summary>Tokens consumed so far.</summary>
    public long Position => Sessions[0].Position;

    /// <summary>Device bytes of this sequence's state across all layers.</summary>
    public long StateBytes => Model.StateBytes;

    internal SomaSession[] Sessions { get; }

    /// <summary>This sequence as the sessions of a call of it alone (made once, so a decode step allocates none).</summary>
    internal CallSessions PerLayer { get; }

    /// <summary>
    /// x [n, D] through every layer in parallel over tokens; returns y [n, D], equal to n <see cref="Decode(ReadOnlySpan{float})"/>
    /// calls. A failed call changes no layer's state.
    /// </summary>
    public float[] Prefill(ReadOnlySpan<float> x)
    {
        var y = new float[x.Length];
        Prefill(x, y);
        return y;
    }

    /// <summary>
    /// <see cref="Prefill(ReadOnlySpan{float})"/> into a caller-owned y of at least x's length: only its first n * D
    /// floats are written and the rest is left as it was; a shorter y throws <see cref="ArgumentException"/> naming y
    /// and the length needed.
    /// </summary>
    public void Prefill(ReadOnlySpan<float> x, Span<float> y)
    {
        int rows = CheckPrefill(x, y.Length);
        if (rows > 0)
        {
            Model.Through(self, new[] { rows }, CallIo.Host(x, y[..x.Length]), null, default);
        }
    }

    /// <summary>
    /// <see cref="Prefill(ReadOnlySpan{float})"/> without blocking the caller: the call runs on the thread pool; bad
    /// input throws here. Cancellation is observed before each layer's pass (and each pass of a long prompt); a
    /// cancelled call leaves every layer as it was and the task ends in <see cref="OperationCanceledException"/>.
    /// </summary>
    public Task<float[]> PrefillAsync(ReadOnlyMemory<float> x, CancellationToken cancellationToken = default)
    {
        int rows = CheckPrefill(x.Span, x.Length);
        return ThreadPoolCall.Run(x, rows, (n, input, y, token) => Model.Through(self, new[] { n }, CallIo.Host(input.Span, y), null, token), cancellationToken);
    }

    /// <summary>One token x [D] through every layer; returns y [D].</summary>
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
        CheckDecode(x, y.Length);
        Model.Through(self, oneRow, CallIo.Host(x, y[..x.Length]), null, default);
    }

    /// <summary>
    /// <see cref="Decode(ReadOnlySpan{float}, Span{float})"/> on device views: x [D] and y (its first D values) on the
    /// engine's accelerator. The first layer reads x and writes y, every later layer runs in place on y: no host copy
    /// of x, y or anything between layers, and one host wait for the whole step (the pass metadata of each layer, a
    /// few bytes, is the only upload). Stream, waiting and failure as for
    /// <see cref="SomaSession.Decode(ArrayView{float}, ArrayView{float}, AcceleratorStream?)"/> (null: the first
    /// layer's stream; every layer runs on the one stream).
    /// </summary>
    /// <param name="x">Input row [D] on the engine's accelerator.</param>
    /// <param name="y">Output on the engine's accelerator (at least D values): x itself (in place) or a view that does not overlap it.</param>
    /// <param name="stream">The stream to run on (of the engine's accelerator), or null.</param>
    public void Decode(ArrayView<float> x, ArrayView<float> y, AcceleratorStream? stream = null)
    {
        ThrowIfDisposed();
        var written = Guard.Views(x, y, Model.ModelDim, "[D]", Model.Engine, stream);
        Model.Through(self, oneRow, CallIo.Device(x, written), stream, default);
    }

    /// <summary>
    /// <see cref="Prefill(ReadOnlySpan{float}, Span{float})"/> on device views (x [n, D], y at least as long), used in
    /// place as for <see cref="Decode(ArrayView{float}, ArrayView{float}, AcceleratorStream?)"/>.
    /// </summary>
    /// <param name="x">Input rows [n, D] on the engine's accelerator.</param>
    /// <param name="y">Output on the engine's accelerator (at least n * D values): x itself (in place) or a view that does not overlap it.</param>
    /// <param name="stream">The stream to run on (of the engine's accelerator), or null.</param>
    public void Prefill(ArrayView<float> x, ArrayView<float> y, AcceleratorStream? stream = null)
    {
        ThrowIfDisposed();
        int rows = Guard.DeviceRows(x, Model.Engine, Model.ModelDim);
        var written = Guard.Views(x, y, x.Length, $"[n={rows}, D={Model.ModelDim}], the length of x", Model.Engine, stream);
        if (rows > 0)
        {
            Model.Through(self, new[] { rows }, CallIo.Device(x, written), stream, default);
        }
    }

    /// <summary><see cref="Decode(ReadOnlySpan{float})"/> without blocking the caller (see <see cref="PrefillAsync"/>).</summary>
    public Task<float[]> DecodeAsync(ReadOnlyMemory<float> x, CancellationToken cancellationToken = default)
    {
        CheckDecode(x.Span, Model.ModelDim);
        return ThreadPoolCall.Run(x, 1, (n, input, y, token) => Model.Through(self, new[] { n }, CallIo.Host(input.Span, y), null, token), cancellationToken);
    }

    /// <summary>Forgets every token in every layer.</summary>
    public void Reset()
    {
        ThrowIfDisposed();
        SessionClaims.ClaimAll(new CallSessions(Sessions));
        try
        {
            foreach (var s in Sessions)
            {
                s.ClearSlot();
                s.Position = 0;
            }
        }
        finally
        {
            SessionClaims.ReleaseAll(new CallSessions(Sessions));
        }
    }

    /// <summary>
    /// Writes every layer's state as one framed model snapshot ("SOMAMODL", the layer count, then one checksummed
    /// section per layer recording its index and weights' SHA-256). Every layer's session is claimed for the whole
    /// copy, so the snapshot is of one moment; the snapshot is staged in memory and written only when complete, so a
    /// save that fails writes nothing to <paramref name="stream"/>.
    /// </summary>
    public void SaveState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ThrowIfDisposed();
        if (!stream.CanWrite)
        {
            throw new ArgumentException("stream must be writable.", nameof(stream));
        }

        var states = new List<(float[] RingK, float[] RingV, double[] Field, long Position)>();
        SessionClaims.ClaimAll(new CallSessions(Sessions));
        try
        {
            foreach (var s in Sessions)
            {
                var (ringK, ringV, field) = s.DownloadState();
                states.Add((ringK, ringV, field, s.Position));
            }
        }
        finally
        {
            SessionClaims.ReleaseAll(new CallSessions(Sessions));
        }

        using var staged = new MemoryStream();
        ModelSnapshot.Write(staged, Sessions, states);
        staged.WriteTo(stream);
    }

    /// <summary>
    /// Replaces every layer's state with a snapshot from <see cref="SaveState"/> (or a version-1 one: one session
    /// snapshot per layer). The stream must hold exactly one snapshot of a stack of as many layers; every section is
    /// read and checked (shape, position, layer index, weights' SHA-256, checksum) before anything changes, then every
    /// layer's session is claimed for the whole upload. A truncated, corrupt, foreign or reordered snapshot throws
    /// <see cref="InvalidDataException"/> and leaves every layer as it was.
    /// </summary>
    public void LoadState(Stream stream) => LoadState(stream, SnapshotOptions.Default);

    /// <summary>
    /// <see cref="LoadState(Stream)"/>; with <see cref="SnapshotOptions.AllowOtherLayer"/>, sections taken with other
    /// weights of the same shape load too. A model's layers are indexed by their position, so
    /// <see cref="SnapshotOptions.LayerIndex"/> must be null.
    /// </summary>
    public void LoadState(Stream stream, SnapshotOptions options)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(options);
        if (options.LayerIndex is not null)
        {
            throw new ArgumentException("options.LayerIndex must be null for a model session: its layers are indexed by their position.", nameof(options));
        }

        ThrowIfDisposed();
        var states = ModelSnapshot.Read(stream, Sessions.Select(s => s.Layer).ToArray(), options.AllowOtherLayer, options.ConvertRing);
        SessionClaims.ClaimAll(new CallSessions(Sessions));
        try
        {
            SessionState.UploadAll(Sessions, states);
        }
        finally
        {
            SessionClaims.ReleaseAll(new CallSessions(Sessions));
        }

        Log.SnapshotLoaded(Model.Engine.LayerLogger, states[0].Header.Position, Sessions.Length);
    }

    /// <summary>
    /// Returns every layer's slot, each as <see cref="SomaSession.Dispose"/> does: at once when no call holds the
    /// sequence, else when that call has committed or rolled back in every layer. Never throws and never waits.
    /// </summary>
    public void Dispose()
    {
        foreach (var s in Sessions)
        {
            s.Dispose();
        }
    }

    private void ThrowIfDisposed()
    {
        Model.ThrowIfDisposed();
        foreach (var s in Sessions)
        {
            s.ThrowIfDisposed();
        }
    }

    /// <summary>Rows of x [n, D], after checking its shape, y's length and that x is finite.</summary>
    private int CheckPrefill(ReadOnlySpan<float> x, int yLength)
    {
        ThrowIfDisposed();
        return Guard.Rows(x, yLength, Model.ModelDim, Model.Engine.Options.CheckFiniteInputs);
    }

    private void CheckDecode(ReadOnlySpan<float> x, int yLength)
    {
        ThrowIfDisposed();
        Guard.Token(x, yLength, Model.ModelDim, Model.Engine.Options.CheckFiniteInputs);
    }
}

/// <summary>Fixed state for a number of sequences in every layer of a <see cref="SomaModel"/>.</summary>
public sealed class SomaModelPool : IDisposable
{
    private readonly SomaSessionPool[] pools;

    internal SomaModelPool(SomaModel model, SomaSessionPool[] pools)
    {
        Model = model;
        this.pools = pools;
    }

    /// <summary>The model.</summary>
    public SomaModel Model { get; }

    /// <summary>Sequences the pool can hold at once.</summary>
    public int Capacity => pools[0].Capacity;

    /// <summary>Opens a sequence (a slot in every layer); throws <see cref="InvalidOperationException"/> when full.</summary>
    public SomaModelSession OpenSession()
    {
        var sessions = new List<SomaSession>();
        try
        {
            foreach (var pool in pools)
            {
                sessions.Add(pool.OpenSession());
            }
        }
        catch
        {
            sessions.ForEach(s => s.Dispose());
            throw;
        }

        return new SomaModelSession(Model, sessions.ToArray());
    }

    /// <summary>
    /// Frees the pool's state in every layer, each as <see cref="SomaSessionPool.Dispose"/> does: once no call runs on
    /// any of its sequences. Never throws and never waits.
    /// </summary>
    public void Dispose()
    {
        foreach (var pool in pools)
        {
            pool.Dispose();
        }
    }
}
