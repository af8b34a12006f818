using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// Runs calls on one layer: checks capacity, cuts the call into passes, takes each pass's plan from the cache, runs
/// its launches (<see cref="PassLauncher"/>) on the layer's streams, and commits, or restores the sessions when
/// anything fails. Owns the layer's streams and scratch. Every method except <see cref="Dispose"/> runs under the
/// layer's lock.
/// </summary>
internal sealed class CallRunner : IDisposable
{
    private readonly SomaLayer layer;
    private readonly SomaEngine engine;
    private readonly LayerStreams streams;
    private readonly PassLauncher launcher;
    private readonly PlanCache plans;
    private readonly int ringWindow;
    private Workspace? workspace;

    /// <summary>A runner for <paramref name="layer"/>.</summary>
    /// <param name="layer">The layer whose calls it runs.</param>
    /// <param name="weights">The layer's device weights.</param>
    /// <param name="ringWindow">Ring slots per session.</param>
    public CallRunner(SomaLayer layer, LayerWeights weights, int ringWindow)
    {
        this.layer = layer;
        engine = layer.Engine;
        this.ringWindow = ringWindow;
        var o = layer.Options;
        int headsPerGroup = engine.Shapes.AttentionHeadsPerGroup(o.HeadsPerKvHead, o.HeadDim);
        launcher = new PassLauncher(layer, weights, ringWindow, headsPerGroup);
        plans = new PlanCache(key => LaunchPlan.Create(engine.Shapes, o, layer.IsStandardAttention, headsPerGroup, key));
        streams = new LayerStreams(engine.Accelerator);
    }

    /// <summary>Pass shapes planned so far (tests).</summary>
    public int PlannedShapes => plans.Count;

    /// <summary>
    /// Runs a claimed call under the layer's lock and advances the sessions' positions when it succeeds.
    /// <paramref name="backedUp"/>: the caller holds a device copy of every session's slot and restores it on failure
    /// (a model call), so a multi-pass call takes none of its own.
    /// </summary>
    /// <param name="sessions">The call's sessions, claimed by the caller.</param>
    /// <param name="rows">Rows of x per session (laid out session after session).</param>
    /// <param name="x">Input rows [sum(rows), D].</param>
    /// <param name="y">Output rows [sum(rows), D].</param>
    /// <param name="backedUp">Whether the caller restores the slots on failure.</param>
    /// <param name="cancellation">Observed before each pass.</param>
    public void Run(
        IReadOnlyList<SomaSession> sessions, int[] rows, ReadOnlySpan<float> x, Span<float> y, bool backedUp, CancellationToken cancellation)
    {
        var store = sessions[0].Pool.Store;
        var positions = CheckCapacity(sessions, rows);
        var passes = PassPlan.Split(SlotsOf(sessions), rows, positions, layer.Options.MaxChunkTokens);
        if (passes.Count == 1)
        {
            cancellation.ThrowIfCancellationRequested();
            Commit(Prepare(sessions, passes[0], x, y));
        }
        else
        {
            var ws = EnsureWorkspace(layer.Options.MaxChunkTokens, Math.Min(sessions.Count, layer.Options.MaxChunkTokens));
            new PipelinedCall(this, ws, store, passes).Run(backedUp ? Array.Empty<SomaSession>() : sessions, x, y, cancellation);
        }

        for (int s = 0; s < sessions.Count; s++)
        {
            sessions[s].Position = positions[s] + rows[s];
        }
    }

    /// <summary>
    /// The first half of a single-pass call (at most <see cref="SomaLayerOptions.MaxChunkTokens"/> rows; every
    /// decode): upload, kernels, download, y copied out. Writes scratch only, so a failure here changes no session.
    /// </summary>
    /// <param name="sessions">The call's sessions, claimed by the caller.</param>
    /// <param name="rows">Rows of x per session.</param>
    /// <param name="x">Input rows.</param>
    /// <param name="y">Output rows.</param>
    public PendingCommit Prepare(IReadOnlyList<SomaSession> sessions, int[] rows, ReadOnlySpan<float> x, Span<float> y) =>
        Prepare(sessions, PassPlan.Split(SlotsOf(sessions), rows, CheckCapacity(sessions, rows), int.MaxValue)[0], x, y);

    /// <summary>
    /// The second half of a single-pass call: the commit launch (the only state write), waited for. Positions are the
    /// caller's to advance.
    /// </summary>
    /// <param name="pending">What <see cref="Prepare(IReadOnlyList{SomaSession}, int[], ReadOnlySpan{float}, Span{float})"/> returned.</param>
    public void Commit(PendingCommit pending)
    {
        try
        {
            launcher.Commit(pending.Workspace, pending.Store, pending.Pass, pending.Plan, streams.Compute);
            streams.Compute.Synchronize();
        }
        catch (Exception ex)
        {
            streams.Drain();
            Log.CommitFailed(engine.LayerLogger, ex);
            throw;
        }
    }

    /// <summary>The layer whose calls this runs.</summary>
    internal SomaLayer Layer => layer;

    /// <summary>The layer's streams.</summary>
    internal LayerStreams Streams => streams;

    /// <summary>The layer's launcher.</summary>
    internal PassLauncher Launcher => launcher;

    /// <summary>The plan of <paramref name="pass"/>, from the cache.</summary>
    /// <param name="pass">Which rows of which sessions.</param>
    internal LaunchPlan PlanOf(PassPlan pass) => plans.For(PlanKey.Of(pass, ringWindow));

    /// <summary>Frees the scratch and the streams. Never throws.</summary>
    public void Dispose()
    {
        workspace?.Dispose();
        workspace = null;
        streams.Dispose();
    }

    private static int[] SlotsOf(IReadOnlyList<SomaSession> sessions)
    {
        var slots = new int[sessions.Count];
        for (int s = 0; s < slots.Length; s++)
        {
            slots[s] = sessions[s].Slot;
        }

        return slots;
    }

    private PendingCommit Prepare(IReadOnlyList<SomaSession> sessions, PassPlan pass, ReadOnlySpan<float> x, Span<float> y)
    {
        var store = sessions[0].Pool.Store;
        var ws = EnsureWorkspace(pass.Tokens, sessions.Count);
        var stream = streams.Compute;
        try
        {
            var plan = PlanOf(pass);
            layer.OnStage(Stage.Upload);
            ws.First.Upload(stream, x);
            launcher.Launch(ws, ws.First, store, pass, plan, stream);
            layer.OnStage(Stage.Download);
            ws.First.Download(stream, y.Length);
            stream.Synchronize();
            ws.First.CopyOut(y);
            return new PendingCommit(ws, store, pass, plan);
        }
        catch (Exception ex)
        {
            streams.Drain();
            Log.CallFailed(engine.LayerLogger, ex);
            throw;
        }
    }

    /// <summary>
    /// Each session's position, after checking that no session would pass <see cref="SomaSession.MaxPosition"/> and
    /// that a standard-attention KV cache has room for its rows.
    /// </summary>
    private long[] CheckCapacity(IReadOnlyList<SomaSession> sessions, int[] rows)
    {
        var positions = new long[sessions.Count];
        for (int s = 0; s < sessions.Count; s++)
        {
            positions[s] = sessions[s].Position;
            if (positions[s] + rows[s] > SomaSession.MaxPosition)
            {
                throw new InvalidOperationException(
                    $"The session is at position {positions[s]} and the call adds {rows[s]} tokens, past SomaSession.MaxPosition ({SomaSession.MaxPosition}).");
            }
        }

        for (int s = 0; layer.KvCapacity is { } capacity && s < sessions.Count; s++)
        {
            if (positions[s] + rows[s] > capacity)
            {
                throw new InvalidOperationException(
                    $"The KV cache is full: the session holds {positions[s]} of {capacity} tokens and the call adds {rows[s]}.");
            }
        }

        return positions;
    }

    private Workspace EnsureWorkspace(int rows, int segments)
    {
        if (workspace is { } ws && ws.Rows >= rows && ws.Segments >= segments)
        {
            return ws;
        }

        int newRows = Math.Max(rows, workspace?.Rows ?? 0);
        int newSegments = Math.Max(segments, workspace?.Segments ?? 0);
        var created = new Workspace(engine, layer.Options, (int)Math.Min(int.MaxValue, Math.Max(16, (long)newRows)), Math.Max(4, newSegments));
        workspace?.Dispose();
        workspace = created;
        Log.WorkspaceGrows(engine.LayerLogger, created.Rows, created.Segments);
        return created;
    }
}
