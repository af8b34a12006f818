using Soma.Internal;

namespace Soma;

/// <summary>One sequence through a <see cref="SomaModel"/>: a <see cref="SomaSession"/> in every layer, advanced together.</summary>
public sealed class SomaModelSession : IDisposable
{
    internal SomaModelSession(SomaModel model, SomaSession[] sessions)
    {
        Model = model;
        Sessions = sessions;
    }

    /// <summary>The model this sequence runs through.</summary>
    public SomaModel Model { get; }

    /// <summary>Tokens consumed so far.</summary>
    public long Position => Sessions[0].Position;

    /// <summary>Device bytes of this sequence's state across all layers.</summary>
    public long StateBytes => Model.StateBytes;

    internal SomaSession[] Sessions { get; }

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
            Model.Through(new[] { this }, new[] { rows }, x, y[..x.Length], default);
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
        return ThreadPoolCall.Run(x, rows, (n, input, y, token) => Model.Through(new[] { this }, new[] { n }, input.Span, y, token), cancellationToken);
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
        Model.Through(new[] { this }, new[] { 1 }, x, y[..x.Length], default);
    }

    /// <summary><see cref="Decode(ReadOnlySpan{float})"/> without blocking the caller (see <see cref="PrefillAsync"/>).</summary>
    public Task<float[]> DecodeAsync(ReadOnlyMemory<float> x, CancellationToken cancellationToken = default)
    {
        CheckDecode(x.Span, Model.ModelDim);
        return ThreadPoolCall.Run(x, 1, (n, input, y, token) => Model.Through(new[] { this }, new[] { n }, input.Span, y, token), cancellationToken);
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
