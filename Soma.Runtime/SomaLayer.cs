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
public sealed class SomaLayer : IDisposable
{
    private readonly object gate = new();
    private readonly List<SomaSessionPool> pools = new();
    private readonly DeviceBuffer<float> weightQkvT;
    private readonly DeviceBuffer<float> biasQkv;
    private readonly DeviceBuffer<float> weightOutT;
    private readonly DeviceBuffer<float> biasOut;
    private readonly DeviceBuffer<float> gamma;
    private readonly DeviceBuffer<float> alpha;
    private readonly DeviceBuffer<double> inverseFrequencies;
    private readonly LayerStreams streams;
    private Workspace? workspace;
    private bool disposed;

    internal SomaLayer(SomaEngine engine, SomaLayerOptions options, SomaLayerWeights weights, int? kvCapacity = null)
    {
        Engine = engine;
        Options = options;
        KvCapacity = kvCapacity;
        RingWindow = kvCapacity ?? options.Window;
        int d = options.ModelDim;
        int dh = options.HeadDim;
        int q = options.Heads * dh;
        int kv = options.KvHeads * dh;
        int m = q + 2 * kv;

        // Device layout only: W^T so that consecutive threads (output columns) read consecutive addresses.
        var qkvT = new float[(long)d * m];
        Transpose(weights.Wq, q, d, qkvT, m, 0);
        Transpose(weights.Wk, kv, d, qkvT, m, q);
        Transpose(weights.Wv, kv, d, qkvT, m, q + kv);
        var bias = new float[m];
        weights.Bq?.CopyTo(bias, 0);
        weights.Bk?.CopyTo(bias, q);
        weights.Bv?.CopyTo(bias, q + kv);
        var outT = new float[(long)q * d];
        Transpose(weights.Wo, d, q, outT, d, 0);
        var half = Math.Max(1, dh / 2);
        var inv = new double[half];
        if (options.RopeTheta is { } theta)
        {
            for (int j = 0; j < half; j++)
            {
                inv[j] = Math.Pow(theta, -2.0 * j / dh);
            }
        }

        var owned = new List<IDisposable>();
        try
        {
            var stream = engine.Accelerator.DefaultStream;
            weightQkvT = Upload(qkvT);
            biasQkv = Upload(bias);
            weightOutT = Upload(outT);
            biasOut = Upload(weights.Bo ?? new float[d]);
            gamma = Upload(weights.Gamma);
            alpha = Upload(weights.Alpha);
            inverseFrequencies = Upload(inv);
            stream.Synchronize();
            streams = new LayerStreams(engine.Accelerator);

            DeviceBuffer<T> Upload<T>(T[] data)
                where T : unmanaged
            {
                var buffer = engine.Allocate<T>(data.Length);
                owned.Add(buffer);
                buffer.Upload(stream, data);
                return buffer;
            }
        }
        catch
        {
            owned.ForEach(b => b.Dispose());
            throw;
        }

        HeadsPerGroup = engine.Shapes.AttentionHeadsPerGroup(options.HeadsPerKvHead, dh);
        Log.LayerCreated(
            engine.LayerLogger, kvCapacity is null ? "Soma" : $"standard attention (KV capacity {kvCapacity})", d, options.Heads,
            options.KvHeads, dh, options.Window, options.RopeTheta?.ToString("R", System.Globalization.CultureInfo.InvariantCulture) ?? "off",
            (qkvT.LongLength + bias.Length + outT.LongLength + d + options.KvHeads + options.Heads) * sizeof(float) + (long)half * sizeof(double));
        WeightsSha256 = LayerIdentity.Sha256(weights, options);
    }

    /// <summary>SHA-256 of the weights as uploaded (lower-case hex), computed once here; snapshots record it.</summary>
    internal string WeightsSha256 { get; }

    /// <summary>The layer's shape and behaviour.</summary>
    public SomaLayerOptions Options { get; }

    /// <summary>The engine whose accelerator holds this layer.</summary>
    public SomaEngine Engine { get; }

    /// <summary>
    /// Device bytes of one session's state: for Soma 2 W Hkv dh * 4 + Hkv dh * 8 (fp32 ring, fp64 field),
    /// independent of how many tokens it consumed; for the standard-attention baseline the whole KV cache,
    /// 2 * capacity * Hkv * dh * 4.
    /// </summary>
    public long StateBytes => KvCapacity is { } c ? 2L * c * Options.KvHeads * Options.HeadDim * sizeof(float) : Options.StateBytes;

    /// <summary>
    /// Null for a Soma layer. For the standard-attention baseline (<see cref="SomaEngine.CreateStandardAttentionLayer"/>):
    /// the KV cache capacity in tokens per session.
    /// </summary>
    public int? KvCapacity { get; }

    /// <summary>True when this is the standard-attention baseline: causal attention over every token, no field.</summary>
    public bool IsStandardAttention => KvCapacity is not null;

    /// <summary>Ring slots per session: W for Soma, the KV capacity for the baseline (whose ring never wraps).</summary>
    private int RingWindow { get; }

    /// <summary>
    /// Test hook: called with each stage's name ("upload", "rope", "qkv", "scan", "attention", "output", "download",
    /// "commit") before it is enqueued.
    /// </summary>
    internal Action<string>? BeforeStage { get; set; }

    private int HeadsPerGroup { get; }

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
            lock (pools)
            {
                pools.Add(pool);
            }

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
        Guard.Length(x, (long)sessions.Count * Options.ModelDim, nameof(x), $"[B={sessions.Count}, D={Options.ModelDim}]");
        Guard.Output(y.Length, x.Length, $"[B={sessions.Count}, D={Options.ModelDim}]");
        Guard.Finite(x, nameof(x), Engine.Options.CheckFiniteInputs);
        var rows = Enumerable.Repeat(1, sessions.Count).ToArray();
        Run(sessions, rows, x, y[..x.Length]);
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
    internal void CheckBatch(IReadOnlyList<SomaSession> sessions)
    {
        ArgumentNullException.ThrowIfNull(sessions);
        if (sessions.Count == 0)
        {
            throw new ArgumentException("sessions is empty; expected at least one session.", nameof(sessions));
        }

        var pool = sessions[0].Pool;
        var seen = new HashSet<SomaSession>();
        for (int b = 0; b < sessions.Count; b++)
        {
            var s = sessions[b] ?? throw new ArgumentNullException(nameof(sessions), $"sessions[{b}] is null.");
            s.ThrowIfDisposed();
            if (s.Layer != this)
            {
                throw new ArgumentException($"sessions[{b}] belongs to another layer.", nameof(sessions));
            }

            if (s.Pool != pool)
            {
                throw new ArgumentException(
                    $"sessions[{b}] comes from another pool; sessions batched together must share one pool.", nameof(sessions));
            }

            if (!seen.Add(s))
            {
                throw new ArgumentException($"sessions[{b}] appears twice; a batch holds each session once.", nameof(sessions));
            }
        }
    }

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
            SomaSessionPool[] open;
            lock (pools)
            {
                open = pools.ToArray();
                pools.Clear();
            }

            foreach (var pool in open)
            {
                pool.Dispose();
            }

            workspace?.Dispose();
            weightQkvT.Dispose();
            biasQkv.Dispose();
            weightOutT.Dispose();
            biasOut.Dispose();
            gamma.Dispose();
            alpha.Dispose();
            inverseFrequencies.Dispose();
            streams.Dispose();
        }
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> naming the engine when it is disposed, else this layer.</summary>
    internal void ThrowIfDisposed()
    {
        Engine.ThrowIfDisposed();
        ObjectDisposedException.ThrowIf(disposed, this);
    }

    /// <summary>Drops a disposed pool from the list <see cref="Dispose"/> works through (without waiting for a call).</summary>
    internal void Forget(SomaSessionPool pool)
    {
        lock (pools)
        {
            pools.Remove(pool);
        }
    }

    /// <summary>
    /// For a caller that holds <see cref="Gate"/> and the sessions' claims: throws <see cref="ObjectDisposedException"/>
    /// when the layer or any of the sessions was disposed while the call waited for the layer. Nothing has touched
    /// the device yet, so the call ends changing nothing.
    /// </summary>
    internal void ThrowIfDisposed(IReadOnlyList<SomaSession> sessions)
    {
        ThrowIfDisposed();
        foreach (var s in sessions)
        {
            s.ThrowIfDisposed();
        }
    }

    /// <summary>The lock that serializes calls on this layer; a model holds it across its deferred commits.</summary>
    internal object Gate => gate;

    /// <summary>
    /// Runs rows[s] tokens of x for each session s (rows laid out session after session) and commits their state.
    /// A call of more than <see cref="SomaLayerOptions.MaxChunkTokens"/> rows runs as a pipeline of passes
    /// (<see cref="RunPipelined"/>); if any pass fails or the call is cancelled, every session's slot is restored from
    /// a device copy taken before the first. The sessions are claimed before the call waits for the layer, so a
    /// session busy with another call throws <see cref="InvalidOperationException"/> at once, and released only after
    /// the call's device work has committed or rolled back.
    /// </summary>
    internal void Run(IReadOnlyList<SomaSession> sessions, int[] rows, ReadOnlySpan<float> x, Span<float> y, CancellationToken cancellation = default)
    {
        var claimed = SomaSession.ClaimAll(sessions);
        try
        {
            lock (gate)
            {
                ThrowIfDisposed(sessions);
                RunClaimed(sessions, rows, x, y, backedUp: false, cancellation);
            }
        }
        finally
        {
            claimed.ForEach(s => s.Release());
        }
    }

    /// <summary>
    /// <see cref="Run"/> for a caller that holds <see cref="Gate"/> and has claimed every session; advances the
    /// sessions' positions when it succeeds. <paramref name="backedUp"/>: the caller holds a device copy of every
    /// session's slot and restores it on failure (a model call), so a multi-pass call takes none of its own.
    /// </summary>
    internal void RunClaimed(
        IReadOnlyList<SomaSession> sessions, int[] rows, ReadOnlySpan<float> x, Span<float> y, bool backedUp, CancellationToken cancellation)
    {
        var store = sessions[0].Pool.Store;
        var positions = CheckCapacity(sessions, rows);
        var passes = PassPlan.Split(sessions.Select(s => s.Slot).ToArray(), rows, positions, Options.MaxChunkTokens);
        if (passes.Count == 1)
        {
            cancellation.ThrowIfCancellationRequested();
            Commit(Prepare(sessions, passes[0], x, y));
        }
        else
        {
            var ws = EnsureWorkspace(Options.MaxChunkTokens, Math.Min(sessions.Count, Options.MaxChunkTokens));
            RunPipelined(ws, store, backedUp ? Array.Empty<SomaSession>() : sessions, passes, x, y, cancellation);
        }

        for (int s = 0; s < sessions.Count; s++)
        {
            sessions[s].Position = positions[s] + rows[s];
        }
    }

    /// <summary>
    /// The first half of a single-pass call (at most <see cref="SomaLayerOptions.MaxChunkTokens"/> rows; every
    /// decode): upload, kernels, download, y copied out. Writes scratch only, so a failure here changes no session.
    /// The caller holds <see cref="Gate"/> and the sessions' claims until it passes the result to
    /// <see cref="Commit(PendingCommit)"/>; a model prepares every layer before it commits any.
    /// </summary>
    internal PendingCommit Prepare(IReadOnlyList<SomaSession> sessions, int[] rows, ReadOnlySpan<float> x, Span<float> y) =>
        Prepare(sessions, PassPlan.Split(sessions.Select(s => s.Slot).ToArray(), rows, CheckCapacity(sessions, rows), int.MaxValue)[0], x, y);

    private PendingCommit Prepare(IReadOnlyList<SomaSession> sessions, PassPlan pass, ReadOnlySpan<float> x, Span<float> y)
    {
        var store = sessions[0].Pool.Store;
        var ws = EnsureWorkspace(pass.Tokens, sessions.Count);
        var stream = streams.Compute;
        try
        {
            BeforeStage?.Invoke("upload");
            ws.First.Upload(stream, x);
            Launch(ws, ws.First, store, pass, stream);
            BeforeStage?.Invoke("download");
            ws.First.Download(stream, y.Length);
            stream.Synchronize();
            ws.First.CopyOut(y);
            return new PendingCommit(ws, store, pass);
        }
        catch (Exception ex)
        {
            streams.Drain();
            Log.CallFailed(Engine.LayerLogger, ex);
            throw;
        }
    }

    /// <summary>
    /// The second half of a single-pass call: the commit launch (the only state write), waited for. Positions are the
    /// caller's to advance.
    /// </summary>
    internal void Commit(PendingCommit pending)
    {
        try
        {
            Commit(pending.Workspace, pending.Store, pending.Pass, streams.Compute);
            streams.Compute.Synchronize();
        }
        catch (Exception ex)
        {
            streams.Drain();
            Log.CommitFailed(Engine.LayerLogger, ex);
            throw;
        }
    }

    /// <summary>
    /// Each session's position, after checking that no session would pass <see cref="SomaSession.MaxPosition"/> and
    /// that a standard-attention KV cache has room for its rows.
    /// </summary>
    private long[] CheckCapacity(IReadOnlyList<SomaSession> sessions, int[] rows)
    {
        var positions = sessions.Select(s => s.Position).ToArray();
        for (int s = 0; s < sessions.Count; s++)
        {
            if (positions[s] + rows[s] > SomaSession.MaxPosition)
            {
                throw new InvalidOperationException(
                    $"The session is at position {positions[s]} and the call adds {rows[s]} tokens, past SomaSession.MaxPosition ({SomaSession.MaxPosition}).");
            }
        }

        for (int s = 0; KvCapacity is { } capacity && s < sessions.Count; s++)
        {
            if (positions[s] + rows[s] > capacity)
            {
                throw new InvalidOperationException(
                    $"The KV cache is full: the session holds {positions[s]} of {capacity} tokens and the call adds {rows[s]}.");
            }
        }

        return positions;
    }

    /// <summary>
    /// A call of several passes, pipelined over the layer's three streams: while pass i computes, pass i+1's rows are
    /// uploaded and pass i-1's output is downloaded, each through its own <see cref="PassIo"/> set (two alternate).
    /// Each pass commits right after its kernels, because the next pass reads the ring it writes; the device copy of
    /// every session's slot taken first is put back if anything fails, so the call still changes nothing on failure.
    /// <paramref name="backUp"/> names the sessions to copy: all of the call's, or none when the caller holds copies.
    /// </summary>
    /// <remarks>
    /// Order per pass i: wait for upload i; enqueue metadata, kernels and commit i on the compute stream; stage and
    /// enqueue upload i+1; wait for download i-1 and copy it out; wait for the compute stream; enqueue download i. With
    /// <see cref="LaunchShapes.OverlapCopies"/> off (benchmarks compare the two), all three are the compute stream.
    /// </remarks>
    private void RunPipelined(
        Workspace ws, StateStore store, IReadOnlyList<SomaSession> backUp, List<PassPlan> passes, ReadOnlySpan<float> x, Span<float> y,
        CancellationToken cancellation)
    {
        int d = Options.ModelDim;
        bool overlap = Engine.Shapes.OverlapCopies;
        var compute = streams.Compute;
        var upload = overlap ? streams.Upload : compute;
        var download = overlap ? streams.Download : compute;
        var backups = new List<SlotBackup>();
        Log.CallPipelined(Engine.LayerLogger, passes.Sum(p => p.Tokens), passes.Max(p => p.Slots.Length), passes.Count);
        try
        {
            foreach (var session in backUp)
            {
                backups.Add(SlotBackup.Take(Engine, store, session.Slot));
            }

            BeforeStage?.Invoke("upload");
            ws.Io(0).Upload(upload, x.Slice(0, passes[0].Tokens * d));
            for (int i = 0; i < passes.Count; i++)
            {
                // A cancelled call stops between passes and, like a failed one, restores every session.
                cancellation.ThrowIfCancellationRequested();
                var pass = passes[i];
                var io = ws.Io(i);
                upload.Synchronize();
                Launch(ws, io, store, pass, compute);
                Commit(ws, store, pass, compute);
                if (i + 1 < passes.Count)
                {
                    BeforeStage?.Invoke("upload");
                    var next = passes[i + 1];
                    ws.Io(i + 1).Upload(upload, x.Slice(next.Offset * d, next.Tokens * d));
                }

                if (i > 0)
                {
                    download.Synchronize();
                    var previous = passes[i - 1];
                    ws.Io(i - 1).CopyOut(y.Slice(previous.Offset * d, previous.Tokens * d));
                }

                compute.Synchronize();
                BeforeStage?.Invoke("download");
                io.Download(download, pass.Tokens * d);
            }

            download.Synchronize();
            var last = passes[^1];
            ws.Io(passes.Count - 1).CopyOut(y.Slice(last.Offset * d, last.Tokens * d));
        }
        catch (Exception ex)
        {
            streams.Drain();
            foreach (var backup in backups)
            {
                backup.Restore(compute);
            }

            if (backups.Count > 0)
            {
                Log.CallRolledBack(Engine.LayerLogger, backups.Count, ex);
            }

            throw;
        }
        finally
        {
            backups.ForEach(b => b.Dispose());
        }
    }

    /// <summary>
    /// Enqueues one pass on <paramref name="stream"/>: its metadata upload and every kernel up to y in
    /// <see cref="PassIo.Y"/>. Writes scratch only; x must be in <see cref="PassIo.X"/> before the first kernel runs.
    /// </summary>
    private void Launch(Workspace ws, PassIo io, StateStore store, PassPlan pass, AcceleratorStream stream)
    {
        var o = Options;
        var k = Engine.Kernels;
        var shapes = Engine.Shapes;
        var (slots, rows, first) = (pass.Slots, pass.Rows, pass.First);
        int n = pass.Tokens;
        int segments = slots.Length;
        int dh = o.HeadDim;
        int half = dh / 2;
        int channels = o.KvHeads * dh;

        // Metadata for the pass, staged in page-locked memory and sent in two uploads.
        var ints = ws.HostInts.Span;
        var longs = ws.HostLongs.Span;
        int rowsCap = ws.Rows;
        int segCap = ws.Segments;
        for (int s = 0, r = 0; s < segments; s++)
        {
            ints[rowsCap + s] = slots[s];
            ints[rowsCap + segCap + s] = r;
            ints[rowsCap + 2 * segCap + s] = rows[s];
            longs[rowsCap + s] = first[s];
            for (int i = 0; i < rows[s]; i++, r++)
            {
                ints[r] = s;
                longs[r] = first[s] + i;
            }
        }

        ws.IntMeta.UploadAsync(stream, ws.HostInts, ws.HostInts.Length);
        ws.LongMeta.UploadAsync(stream, ws.HostLongs, ws.HostLongs.Length);
        var seg = ws.SegmentArgsFor(segments);

        BeforeStage?.Invoke("rope");
        bool rope = o.RopeTheta is not null;
        if (rope)
        {
            k.RopeTable(stream, shapes.Elements((long)n * half), ws.Positions, inverseFrequencies.View, ws.Cos.View, ws.Sin.View, n, half);
        }

        BeforeStage?.Invoke("qkv");
        int m = (o.Heads + 2 * o.KvHeads) * dh;
        var (qkvConfig, qkvTiling) = shapes.Projection(n, o.ModelDim, m);
        var qkv = new QkvProjectionArgs
        {
            X = io.X.View,
            WeightT = weightQkvT.View,
            Bias = biasQkv.View,
            Cos = ws.Cos.View,
            Sin = ws.Sin.View,
            Q = ws.Q.View,
            KRotated = ws.KRotated.View,
            KRaw = ws.KRaw.View,
            V = ws.V.View,
            Tokens = n,
            ModelDim = o.ModelDim,
            Heads = o.Heads,
            KvHeads = o.KvHeads,
            HeadDim = dh,
            Rope = rope ? 1 : 0,
            Tiling = qkvTiling,
            Partial = qkvTiling.KSlices > 1 ? ws.EnsureProjectionPartial(Engine, (long)qkvTiling.KSlices * n * m) : default,
        };
        k.Qkv(stream, qkvConfig, qkv);
        if (qkvTiling.KSlices > 1)
        {
            k.QkvReduce(stream, shapes.Elements((long)n * m), qkv);
        }

        BeforeStage?.Invoke("scan");
        if (!IsStandardAttention)
        {
            k.FieldScan(
                stream, shapes.GroupsWithDoubles((long)segments * channels, FieldScan.SharedDoubles(shapes.GroupSize)), seg,
                store.Field.View, gamma.View, ws.KRaw.View, ws.FieldPrev.View, ws.FieldFinal.View, channels, dh);
        }

        BeforeStage?.Invoke("attention");
        int headChunks = (o.HeadsPerKvHead + HeadsPerGroup - 1) / HeadsPerGroup;
        long attentionItems = (long)n * o.KvHeads * headChunks;
        int splits = shapes.AttentionSplits(attentionItems, (int)Math.Min(RingWindow, first.Max() + rows.Max()));
        if (splits > 1)
        {
            ws.EnsurePartials(Engine, (long)n * o.Heads * splits, dh);
        }

        var attention = new AttentionArgs
        {
            Q = ws.Q.View,
            K = ws.KRotated.View,
            V = ws.V.View,
            RingK = store.RingK.View,
            RingV = store.RingV.View,
            FieldPrev = ws.FieldPrev.View,
            Alpha = alpha.View,
            Output = ws.O.View,
            RowSegment = ws.RowSegment,
            Tokens = n,
            Heads = o.Heads,
            KvHeads = o.KvHeads,
            HeadDim = dh,
            Window = RingWindow,
            FarField = IsStandardAttention ? 0 : 1,
            IncludeCurrent = o.IncludeCurrent ? 1 : 0,
            TileKeys = shapes.TileKeys,
            HeadsPerGroup = HeadsPerGroup,
            Scale = (float)o.Scale,
            StageTiles = shapes.StageAttentionTiles ? 1 : 0,
            Splits = splits,
            PartialMax = ws.PartialMax?.View ?? default,
            PartialSum = ws.PartialSum?.View ?? default,
            PartialAcc = ws.PartialAcc?.View ?? default,
        };
        k.Attention(
            stream,
            shapes.Groups(attentionItems * splits, NearFieldAttention.SharedFloats(HeadsPerGroup, dh, shapes.TileKeys, shapes.StageAttentionTiles)),
            attention,
            seg);
        if (splits > 1)
        {
            k.AttentionCombine(stream, shapes.Elements((long)n * o.Heads * dh), attention);
        }

        BeforeStage?.Invoke("output");
        int q = o.Heads * dh;
        var (outConfig, outTiling) = shapes.Projection(n, q, o.ModelDim);
        var output = new LinearArgs
        {
            X = ws.O.View,
            WeightT = weightOutT.View,
            Bias = biasOut.View,
            Y = io.Y.View,
            Rows = n,
            Inner = q,
            Outer = o.ModelDim,
            Tiling = outTiling,
            Partial = outTiling.KSlices > 1 ? ws.EnsureProjectionPartial(Engine, (long)outTiling.KSlices * n * o.ModelDim) : default,
        };
        k.Linear(stream, outConfig, output);
        if (outTiling.KSlices > 1)
        {
            k.LinearReduce(stream, shapes.Elements((long)n * o.ModelDim), output);
        }

        Log.PassPlanned(Engine.LayerLogger, n, segments, qkvTiling.ChunkK, qkvTiling.KSlices, outTiling.ChunkK, outTiling.KSlices, splits);
    }

    /// <summary>Enqueues the commit of one pass: ring entries and field into the sessions' slots (the only state write).</summary>
    private void Commit(Workspace ws, StateStore store, PassPlan pass, AcceleratorStream stream)
    {
        BeforeStage?.Invoke("commit");
        int channels = Options.KvHeads * Options.HeadDim;
        int commitRows = Math.Min(RingWindow, pass.Rows.Max());
        Engine.Kernels.Commit(
            stream, Engine.Shapes.Elements((long)pass.Slots.Length * commitRows * channels), ws.SegmentArgsFor(pass.Slots.Length), ws.KRotated.View,
            ws.V.View, ws.FieldFinal.View, store.RingK.View, store.RingV.View, store.Field.View, channels, RingWindow, commitRows,
            IsStandardAttention ? 0 : 1);
    }

    private Workspace EnsureWorkspace(int rows, int segments)
    {
        if (workspace is { } ws && ws.Rows >= rows && ws.Segments >= segments)
        {
            return ws;
        }

        int newRows = Math.Max(rows, workspace?.Rows ?? 0);
        int newSegments = Math.Max(segments, workspace?.Segments ?? 0);
        var created = new Workspace(Engine, Options, (int)Math.Min(int.MaxValue, Math.Max(16, (long)newRows)), Math.Max(4, newSegments));
        workspace?.Dispose();
        workspace = created;
        Log.WorkspaceGrows(Engine.LayerLogger, created.Rows, created.Segments);
        return created;
    }

    private static void Transpose(float[] source, int rows, int cols, float[] target, int targetCols, int targetOffset)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                target[(long)c * targetCols + targetOffset + r] = source[(long)r * cols + c];
            }
        }
    }
}
