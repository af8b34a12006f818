using ILGPU;
using ILGPU.Runtime;
using Soma.Internal;
using Soma.Kernels;

namespace Soma;

/// <summary>
/// One Soma attention layer on an accelerator: its weights in device memory, the scratch for its device passes, and
/// the sessions (sequences) that run through it. Calls on one layer are serialized; sessions are independent.
/// </summary>
/// <remarks>
/// Each device pass runs: RoPE angle table (double-precision angles), fused QKV projection with bias and RoPE,
/// field scan over the chunk, near-field attention with the far field added, output projection, and last the
/// commit of ring entries and field into the sessions' slots. A call that fails leaves every session as it was.
/// </remarks>
public sealed partial class SomaLayer : IDisposable
{
    private readonly object gate = new();
    private readonly LayerPools pools = new();
    private readonly LayerWeights weights;
    private readonly CallRunner runner;
    private readonly SomaLayer[] self;
    private readonly DecodeRows decodeRows = new();
    private bool disposed;

    internal SomaLayer(SomaEngine engine, SomaLayerOptions options, SomaLayerWeights weights, int? kvCapacity = null)
    {
        Engine = engine;
        options = options with { WeightStorage = options.WeightStorage ?? weights.ProjectionType };
        Options = options;
        KvCapacity = kvCapacity;
        self = new[] { this };
        this.weights = new LayerWeights(engine, options, weights);
        try
        {
            runner = new CallRunner(this, this.weights, kvCapacity ?? options.Window);
        }
        catch
        {
            this.weights.Dispose();
            throw;
        }

        Log.LayerCreated(
            engine.LayerLogger, kvCapacity is null ? "Soma" : $"standard attention (KV capacity {kvCapacity})", options.ModelDim, options.Heads,
            options.KvHeads, options.HeadDim, options.Window,
            options.RopeTheta?.ToString("R", System.Globalization.CultureInfo.InvariantCulture) ?? "off", this.weights.Bytes);
        WeightsSha256 = LayerIdentity.Sha256(weights, options);
    }

    /// <summary>SHA-256 of the weights as uploaded (lower-case hex), computed once here; snapshots record it.</summary>
    internal string WeightsSha256 { get; }

    /// <summary>
    /// The layer's shape and behaviour, with <see cref="SomaLayerOptions.WeightStorage"/> resolved to the type the
    /// layer stores its weights in.
    /// </summary>
    public SomaLayerOptions Options { get; }

    /// <summary>The engine whose accelerator holds this layer.</summary>
    public SomaEngine Engine { get; }

    /// <summary>
    /// Device bytes of one session's state: for Soma 2 W Hkv dh * b + Hkv dh * 8 (ring in
    /// <see cref="SomaLayerOptions.RingStorage"/>, b = 4 or 2 bytes; fp64 field), independent of how many tokens it
    /// consumed; for the standard-attention baseline the whole KV cache, 2 * capacity * Hkv * dh * b.
    /// </summary>
    public long StateBytes => KvCapacity is { } c ? 2L * c * Options.KvHeads * Options.HeadDim * StorageTypes.Bytes(Options.RingStorage) : Options.StateBytes;

    /// <summary>
    /// Null for a Soma layer. For the standard-attention baseline (<see cref="SomaEngine.CreateStandardAttentionLayer"/>):
    /// the KV cache capacity in tokens per session.
    /// </summary>
    public int? KvCapacity { get; }

    /// <summary>True when this is the standard-attention baseline: causal attention over every token, no field.</summary>
    public bool IsStandardAttention => KvCapacity is not null;

    /// <summary>Ring slots per session: W for Soma, the KV capacity for the baseline (whose ring never wraps).</summary>
    private int RingWindow => KvCapacity ?? Options.Window;

    /// <summary>
    /// Test hook: called with each stage's name ("upload", "rope", "qkv", "scan", "attention", "output", "download",
    /// "commit") before it is enqueued.
    /// </summary>
    internal Action<string>? BeforeStage { get; set; }

    /// <summary>The layer's call runner (plans, launches, commits); used under <see cref="Gate"/>.</summary>
    internal CallRunner Runner => runner;

    /// <summary>
    /// What this layer's part of its last completed call did on the device: launches by kernel, uploads, downloads,
    /// host waits, device bytes and FLOPs (<see cref="SomaCallProfile"/>); null before the first. For a model call it
    /// is this layer's part; <see cref="SomaModel.LastCallProfile"/> sums the layers. Counting allocates nothing; the
    /// record is built when this is read. A failed call leaves the previous profile.
    /// </summary>
    public SomaCallProfile? LastCallProfile
    {
        get
        {
            lock (LastCounters)
            {
                return LastCounters.Completed ? LastCounters.ToProfile() : null;
            }
        }
    }

    /// <summary>The counters of the last completed call, published by <see cref="LayerCall"/> (lock it to read).</summary>
    internal CallCounters LastCounters { get; } = new();

    /// <summary>Opens a session with its own state slot (ring, field and position; position 0, field 0).</summary>
    public SomaSession CreateSession()
    {
        var pool = CreatePool(1);
        var session = pool.OpenSession();
        session.OwnsPool = true;
        return session;
    }

    /// <summary>
    /// Allocates device state for <paramref name="capacity"/> sessions up front; opening a session from the pool then
    /// never allocates. Sessions decoded together in <see cref="DecodeBatch(IReadOnlyList{SomaSession}, ReadOnlySpan{float})"/> must come from one pool.
    /// </summary>
    public SomaSessionPool CreatePool(int capacity)
    {
        Guard.Positive(capacity, nameof(capacity));
        lock (gate)
        {
            ThrowIfDisposed();
            var pool = new SomaSessionPool(this, new StateStore(Engine, Options, RingWindow, capacity));
            pools.Add(pool);

            Log.PoolCreated(Engine.LayerLogger, capacity, capacity * StateBytes, StateBytes);
            return pool;
        }
    }

    /// <summary>
    /// A pool with as many sessions as fit in <paramref name="budgetBytes"/> of session state
    /// (budget / <see cref="StateBytes"/>, at least one, or an error naming how much one session needs).
    /// </summary>
    public SomaSessionPool CreatePoolForBudget(long budgetBytes)
    {
        long capacity = budgetBytes / StateBytes;
        if (capacity < 1)
        {
            throw new ArgumentOutOfRangeException(
                nameof(budgetBytes), budgetBytes, $"budgetBytes must hold at least one session's state ({StateBytes} bytes).");
        }

        return CreatePool((int)Math.Min(capacity, int.MaxValue));
    }

    /// <summary>
    /// Decodes one token for each session in one device pass: x is [B, D] with row b for sessions[b]; returns y[B, D].
    /// Equal to decoding each session alone. All sessions must be distinct, open, of this layer and of one pool.
    /// </summary>
    public float[] DecodeBatch(IReadOnlyList<SomaSession> sessions, ReadOnlySpan<float> x)
    {
        var y = new float[x.Length];
        DecodeBatch(sessions, x, y);
        return y;
    }

    /// <summary>
    /// <see cref="DecodeBatch(IReadOnlyList{SomaSession}, ReadOnlySpan{float})"/> into a caller-owned y (no
    /// allocation of the output). y may be longer than B * D: only its first B * D floats are written, the rest is
    /// left as it was; a shorter y throws <see cref="ArgumentException"/> naming y and the length needed.
    /// </summary>
    public void DecodeBatch(IReadOnlyList<SomaSession> sessions, ReadOnlySpan<float> x, Span<float> y)
    {
        CheckBatch(sessions);
        if (x.Length != (long)sessions.Count * Options.ModelDim || y.Length < x.Length)
        {
            // Formatted only for the exception, so that a decode step allocates nothing here.
            Guard.Length(x, (long)sessions.Count * Options.ModelDim, nameof(x), $"[B={sessions.Count}, D={Options.ModelDim}]");
            Guard.Output(y.Length, x.Length, $"[B={sessions.Count}, D={Options.ModelDim}]");
        }

        Guard.Finite(x, nameof(x), Engine.Options.CheckFiniteInputs);
        Run(sessions, decodeRows.For(sessions.Count), x, y[..x.Length]);
    }

    /// <summary>
    /// Prefills several sessions with prompts of different lengths in one schedule: x holds lengths[0] rows for
    /// sessions[0], then lengths[1] rows for sessions[1], and so on ([sum(lengths), D] row-major); returns y of the
    /// same shape. Equal to prefilling each session alone. Device passes hold at most
    /// <see cref="SomaLayerOptions.MaxChunkTokens"/> rows, so scratch memory is bounded by that option, not by the
    /// prompts. If any pass fails, every session is restored to its state before the call.
    /// </summary>
    public float[] PrefillBatch(IReadOnlyList<SomaSession> sessions, IReadOnlyList<int> lengths, ReadOnlySpan<float> x)
    {
        var y = new float[x.Length];
        PrefillBatch(sessions, lengths, x, y);
        return y;
    }

    /// <summary>
    /// <see cref="PrefillBatch(IReadOnlyList{SomaSession}, IReadOnlyList{int}, ReadOnlySpan{float})"/> into a
    /// caller-owned y of at least x's length: only its first x.Length floats are written, the rest is left as it
    /// was; a shorter y throws <see cref="ArgumentException"/> naming y and the length needed.
    /// </summary>
    public void PrefillBatch(IReadOnlyList<SomaSession> sessions, IReadOnlyList<int> lengths, ReadOnlySpan<float> x, Span<float> y)
    {
        CheckBatch(sessions);
        long total = Guard.Lengths(lengths, sessions.Count);
        Guard.Length(x, total * Options.ModelDim, nameof(x), $"[sum(lengths)={total}, D={Options.ModelDim}]");
        Guard.Output(y.Length, x.Length, $"[sum(lengths)={total}, D={Options.ModelDim}]");
        Guard.Finite(x, nameof(x), Engine.Options.CheckFiniteInputs);
        if (total > 0)
        {
            Run(sessions, lengths.ToArray(), x, y[..x.Length]);
        }
    }

    /// <summary>Sessions of a batch call: at least one, distinct, open, of this layer and of one pool.</summary>
    internal void CheckBatch(IReadOnlyList<SomaSession> sessions) => BatchCheck.Sessions(this, sessions);

    /// <summary>
    /// Waits for the call running on this layer, then disposes every pool and session of this layer (see
    /// <see cref="SomaSessionPool.Dispose"/>) and frees the weights and scratch. Calls waiting for the layer end in
    /// <see cref="ObjectDisposedException"/>. Never throws; a second call does nothing.
    /// </summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            foreach (var pool in pools.TakeAll())
            {
                pool.Dispose();
            }

            runner.Dispose();
            weights.Dispose();
        }
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> naming the engine when it is disposed, else this layer.</summary>
    internal void ThrowIfDisposed()
    {
        Engine.ThrowIfDisposed();
        ObjectDisposedException.ThrowIf(disposed, this);
    }

    /// <summary>Drops a disposed pool from the list <see cref="Dispose"/> works through (without waiting for a call).</summary>
    internal void Forget(SomaSessionPool pool) => pools.Remove(pool);

    /// <summary>The lock that serializes calls on this layer; a call (<see cref="LayerCall"/>) holds it until it has committed or rolled back.</summary>
    internal object Gate => gate;

    /// <summary>
    /// Runs rows[s] tokens of x for each session s (rows laid out session after session) and commits their state.
    /// A call of more than <see cref="SomaLayerOptions.MaxChunkTokens"/> rows runs as a pipeline of passes
    /// (<see cref="PipelinedCall"/>). If anything fails or the call is cancelled, what the commits overwrote (and saved
    /// as they wrote it) is put back (<see cref="CommitSave"/>). Runs on the one call path of layers and models, <see cref="LayerCall"/>.
    /// </summary>
    internal void Run(IReadOnlyList<SomaSession> sessions, int[] rows, ReadOnlySpan<float> x, Span<float> y, CancellationToken cancellation = default) =>
        LayerCall.Run(self, new CallSessions(sessions), rows, CallIo.Host(x, y), null, cancellation);

    /// <summary><see cref="Run(IReadOnlyList{SomaSession}, int[], ReadOnlySpan{float}, Span{float}, CancellationToken)"/> on checked device views.</summary>
    internal void Run(IReadOnlyList<SomaSession> sessions, int[] rows, ArrayView<float> x, ArrayView<float> y, AcceleratorStream? stream) =>
        LayerCall.Run(self, new CallSessions(sessions), rows, CallIo.Device(x, y), stream, default);

    /// <summary>Calls the fault-injection hook (<see cref="BeforeStage"/>) with the name of <paramref name="stage"/>.</summary>
    internal void OnStage(Stage stage) => BeforeStage?.Invoke(StageNames.Of(stage));
}
