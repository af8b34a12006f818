using ILGPU;
using ILGPU.Runtime;
using Soma.Internal;

namespace Soma;

/// <summary>
/// A stack of Soma layers with their own weights and states, behind the same session API as one layer: layer l's
/// output is layer l+1's input (plain composition; norms and residuals belong to the caller's model code).
/// State per sequence scales with the number of layers, never with tokens.
/// </summary>
public sealed class SomaModel : IDisposable
{
    private readonly SomaLayer[] layers;
    private readonly CallCounters lastCounters = new();
    private int disposed;

    internal SomaModel(SomaEngine engine, SomaLayer[] layers)
    {
        Engine = engine;
        this.layers = layers;
    }

    /// <summary>
    /// What the model's last completed call did on the device, summed over its layers (each layer's part is its
    /// <see cref="SomaLayer.LastCallProfile"/>): launches by kernel, uploads, downloads, host waits, device bytes and
    /// FLOPs; <see cref="SomaCallProfile.Rows"/> and <see cref="SomaCallProfile.Sessions"/> are the call's (not summed).
    /// Null before the first call.
    /// </summary>
    public SomaCallProfile? LastCallProfile
    {
        get
        {
            lock (lastCounters)
            {
                return lastCounters.Completed ? lastCounters.ToProfile() : null;
            }
        }
    }

    /// <summary>The engine whose accelerator holds the layers.</summary>
    public SomaEngine Engine { get; }

    /// <summary>The layers, first to last.</summary>
    public IReadOnlyList<SomaLayer> Layers => layers;

    /// <summary>Model width D (every layer's input and output width).</summary>
    public int ModelDim => layers[0].Options.ModelDim;

    /// <summary>Device bytes of one sequence's state across all layers.</summary>
    public long StateBytes => layers.Sum(l => l.StateBytes);

    /// <summary>Opens a sequence with its own state in every layer.</summary>
    public SomaModelSession CreateSession()
    {
        ThrowIfDisposed();
        var sessions = new List<SomaSession>();
        try
        {
            foreach (var layer in layers)
            {
                sessions.Add(layer.CreateSession());
            }
        }
        catch
        {
            sessions.ForEach(s => s.Dispose());
            throw;
        }

        return new SomaModelSession(this, sessions.ToArray());
    }

    /// <summary>
    /// Allocates state for <paramref name="capacity"/> sequences in every layer up front; sessions opened from it
    /// can be decoded together with <see cref="DecodeBatch(IReadOnlyList{SomaModelSession}, ReadOnlySpan{float})"/>.
    /// </summary>
    public SomaModelPool CreatePool(int capacity)
    {
        ThrowIfDisposed();
        Guard.Positive(capacity, nameof(capacity));
        var pools = new List<SomaSessionPool>();
        try
        {
            foreach (var layer in layers)
            {
                pools.Add(layer.CreatePool(capacity));
            }
        }
        catch
        {
            pools.ForEach(p => p.Dispose());
            throw;
        }

        return new SomaModelPool(this, pools.ToArray());
    }

    /// <summary>
    /// One token for each of B sequences through every layer (one device pass per layer): x [B, D] -> y [B, D].
    /// Sessions must be distinct, open, of this model and of one <see cref="SomaModelPool"/>.
    /// </summary>
    public float[] DecodeBatch(IReadOnlyList<SomaModelSession> sessions, ReadOnlySpan<float> x)
    {
        var y = new float[x.Length];
        DecodeBatch(sessions, x, y);
        return y;
    }

    /// <summary>
    /// <see cref="DecodeBatch(IReadOnlyList{SomaModelSession}, ReadOnlySpan{float})"/> into a caller-owned y of at
    /// least B * D floats: only the first B * D are written and the rest is left as it was; a shorter y throws
    /// <see cref="ArgumentException"/> naming y and the length needed.
    /// </summary>
    public void DecodeBatch(IReadOnlyList<SomaModelSession> sessions, ReadOnlySpan<float> x, Span<float> y)
    {
        CheckSessions(sessions);
        Guard.Length(x, (long)sessions.Count * ModelDim, nameof(x), $"[B={sessions.Count}, D={ModelDim}]");
        Guard.Output(y.Length, x.Length, $"[B={sessions.Count}, D={ModelDim}]");
        Guard.Finite(x, nameof(x), Engine.Options.CheckFiniteInputs);
        Through(sessions, Enumerable.Repeat(1, sessions.Count).ToArray(), CallIo.Host(x, y[..x.Length]), null, default);
    }

    /// <summary>
    /// <see cref="DecodeBatch(IReadOnlyList{SomaModelSession}, ReadOnlySpan{float}, Span{float})"/> on device views:
    /// x [B, D] and y (its first B * D values) on the engine's accelerator, used in place: the first layer reads x and
    /// writes y, every later layer runs in place on y. No host copy of x, y or anything between layers, and one host
    /// wait for the whole step. Stream, waiting and failure as for
    /// <see cref="SomaSession.Decode(ILGPU.ArrayView{float}, ILGPU.ArrayView{float}, ILGPU.Runtime.AcceleratorStream?)"/>
    /// (null: the first layer's stream; every layer runs on the one stream).
    /// </summary>
    /// <param name="sessions">Distinct, open sequences of this model, from one pool.</param>
    /// <param name="x">Input rows [B, D] on the engine's accelerator.</param>
    /// <param name="y">Output rows on the engine's accelerator: x itself (in place) or a view that does not overlap it.</param>
    /// <param name="stream">The stream to run on (of the engine's accelerator), or null.</param>
    public void DecodeBatch(IReadOnlyList<SomaModelSession> sessions, ArrayView<float> x, ArrayView<float> y, AcceleratorStream? stream = null)
    {
        CheckSessions(sessions);
        var written = Guard.Views(x, y, (long)sessions.Count * ModelDim, "[B, D]", Engine, stream);
        Through(sessions, Enumerable.Repeat(1, sessions.Count).ToArray(), CallIo.Device(x, written), stream, default);
    }

    /// <summary>
    /// Prompts of different lengths for several sequences through every layer in one schedule: x holds lengths[0]
    /// rows for sessions[0], then lengths[1] rows for sessions[1], and so on ([sum(lengths), D]); returns y of the
    /// same shape, equal to prefilling each sequence alone. Sessions as for <see cref="DecodeBatch(IReadOnlyList{SomaModelSession}, ReadOnlySpan{float})"/>.
    /// </summary>
    public float[] PrefillBatch(IReadOnlyList<SomaModelSession> sessions, IReadOnlyList<int> lengths, ReadOnlySpan<float> x)
    {
        var y = new float[x.Length];
        PrefillBatch(sessions, lengths, x, y);
        return y;
    }

    /// <summary>
    /// <see cref="PrefillBatch(IReadOnlyList{SomaModelSession}, IReadOnlyList{int}, ReadOnlySpan{float})"/> into a
    /// caller-owned y of at least x's length: only its first x.Length floats are written and the rest is left as it
    /// was; a shorter y throws <see cref="ArgumentException"/> naming y and the length needed.
    /// </summary>
    public void PrefillBatch(IReadOnlyList<SomaModelSession> sessions, IReadOnlyList<int> lengths, ReadOnlySpan<float> x, Span<float> y)
    {
        CheckSessions(sessions);
        long total = Guard.Lengths(lengths, sessions.Count);
        Guard.Length(x, total * ModelDim, nameof(x), $"[sum(lengths)={total}, D={ModelDim}]");
        Guard.Output(y.Length, x.Length, $"[sum(lengths)={total}, D={ModelDim}]");
        Guard.Finite(x, nameof(x), Engine.Options.CheckFiniteInputs);
        if (total > 0)
        {
            Through(sessions, lengths.ToArray(), CallIo.Host(x, y[..x.Length]), null, default);
        }
    }

    /// <summary>
    /// <see cref="PrefillBatch(IReadOnlyList{SomaModelSession}, IReadOnlyList{int}, ReadOnlySpan{float}, Span{float})"/>
    /// on device views (x [sum(lengths), D], y at least as long), used in place as for
    /// <see cref="DecodeBatch(IReadOnlyList{SomaModelSession}, ArrayView{float}, ArrayView{float}, AcceleratorStream?)"/>.
    /// </summary>
    /// <param name="sessions">Distinct, open sequences of this model, from one pool.</param>
    /// <param name="lengths">Rows of x per sequence.</param>
    /// <param name="x">Input rows [sum(lengths), D] on the engine's accelerator.</param>
    /// <param name="y">Output rows on the engine's accelerator: x itself (in place) or a view that does not overlap it.</param>
    /// <param name="stream">The stream to run on (of the engine's accelerator), or null.</param>
    public void PrefillBatch(
        IReadOnlyList<SomaModelSession> sessions, IReadOnlyList<int> lengths, ArrayView<float> x, ArrayView<float> y, AcceleratorStream? stream = null)
    {
        CheckSessions(sessions);
        long total = Guard.Lengths(lengths, sessions.Count);
        var written = Guard.Views(x, y, total * ModelDim, $"[sum(lengths)={total}, D={ModelDim}]", Engine, stream);
        if (total > 0)
        {
            Through(sessions, lengths.ToArray(), CallIo.Device(x, written), stream, default);
        }
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> naming the engine when it is disposed, else this model.</summary>
    internal void ThrowIfDisposed()
    {
        Engine.ThrowIfDisposed();
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
    }

    /// <summary>
    /// Disposes every layer (and with them every session and pool of the model); each layer first waits for the call
    /// running on it (see <see cref="SomaLayer.Dispose"/>). Never throws; a second call does nothing.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        foreach (var layer in layers)
        {
            layer.Dispose();
        }
    }

    /// <summary>
    /// Runs rows[s] tokens of x for each sequence s through every layer into y, on the one call path of layers and
    /// models (<see cref="LayerCall"/>). Every layer's session of every sequence is claimed for the whole call, before
    /// the call waits for any layer, so a sequence serves one call at a time (a second one throws
    /// <see cref="InvalidOperationException"/> at once) and no slot of it goes back to a pool before the call has
    /// committed or rolled back in every layer. A failed or cancelled call leaves every layer's state as it was.
    /// </summary>
    internal void Through(IReadOnlyList<SomaModelSession> sessions, int[] rows, CallIo io, AcceleratorStream? stream, CancellationToken cancellation)
    {
        ThrowIfDisposed();
        if (sessions.Count == 1)
        {
            LayerCall.Run(layers, sessions[0].PerLayer, rows, io, stream, cancellation, lastCounters);
            return;
        }

        var perLayer = new SomaSession[layers.Length][];
        for (int l = 0; l < layers.Length; l++)
        {
            perLayer[l] = new SomaSession[sessions.Count];
            for (int s = 0; s < sessions.Count; s++)
            {
                perLayer[l][s] = sessions[s].Sessions[l];
            }
        }

        LayerCall.Run(layers, new CallSessions(perLayer), rows, io, stream, cancellation, lastCounters);
    }

    /// <summary>Throws unless every sequence is open, of this model, listed once, and from one pool in every layer.</summary>
    internal void CheckSessions(IReadOnlyList<SomaModelSession> sessions)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(sessions);
        for (int b = 0; b < sessions.Count; b++)
        {
            if (sessions[b] is not { } s || s.Model != this)
            {
                throw new ArgumentException($"sessions[{b}] is null or belongs to another model.", nameof(sessions));
            }
        }

        for (int l = 0; l < layers.Length; l++)
        {
            layers[l].CheckBatch(sessions.Select(s => s.Sessions[l]).ToArray());
        }
    }
}
