using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// Runs one layer's part of a call (<see cref="LayerCall"/>): checks capacity, cuts the rows into passes, takes each
/// pass's plan from the cache and runs its launches (<see cref="PassLauncher"/>) on the layer's streams; then commits,
/// or restores what the commits overwrote. Owns the layer's streams, scratch and commit save. Holds the state of the
/// call in progress, so every method except <see cref="Dispose"/> runs under the layer's lock.
/// </summary>
/// <remarks>
/// A call of one pass (every decode, short prompts) runs its kernels in <see cref="Run"/> and writes no state; its
/// commit launch waits for <see cref="Commit"/>, so that a model commits no layer before every layer has computed.
/// A call of several passes commits each pass as it goes (the next pass reads the ring), so it saves first.
/// </remarks>
internal sealed class CallRunner : IDisposable
{
    private readonly SomaLayer layer;
    private readonly SomaEngine engine;
    private readonly LayerStreams streams;
    private readonly PassLauncher launcher;
    private readonly PlanCache plans;
    private readonly CommitSave save;
    private readonly int ringWindow;
    private Workspace? workspace;
    private IReadOnlyList<SomaSession>? sessions;
    private int[] slots = new int[4];
    private long[] positions = new long[4];
    private int[] rows = Array.Empty<int>();
    private PassPlan? pending;
    private LaunchPlan? pendingPlan;
    private PassPlan? onePass;

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
        launcher = new PassLauncher(layer, weights, ringWindow, headsPerGroup, Counters);
        plans = new PlanCache(key => LaunchPlan.Create(engine.Shapes, o, layer.IsStandardAttention, headsPerGroup, key));
        save = new CommitSave(engine, o.KvHeads * o.HeadDim, ringWindow, StorageTypes.Units(o.RingStorage));
        streams = new LayerStreams(engine.Accelerator);
    }

    /// <summary>The counters of the call in progress (reset when it begins; complete once it has committed).</summary>
    public CallCounters Counters { get; } = new();

    /// <summary>The layer whose calls this runs.</summary>
    public SomaLayer Layer => layer;

    /// <summary>The layer's streams.</summary>
    public LayerStreams Streams => streams;

    /// <summary>The layer's launcher.</summary>
    public PassLauncher Launcher => launcher;

    /// <summary>Sessions whose state the runner saved for the call in progress (0: the call changed no state yet).</summary>
    public int SavedSessions => save.Sessions;

    /// <summary>
    /// Runs this layer's passes of a call for <paramref name="callSessions"/> (claimed by the caller) into
    /// <paramref name="y"/>. One pass: kernels and download only, the commit waits for <see cref="Commit"/>. Several
    /// passes: saves what the commits overwrite, then runs and commits them in a pipeline.
    /// </summary>
    /// <param name="callSessions">The call's sessions of this layer.</param>
    /// <param name="callRows">Rows of x per session (laid out session after session).</param>
    /// <param name="x">Input rows [sum(rows), D].</param>
    /// <param name="y">Output rows [sum(rows), D].</param>
    /// <param name="cancellation">Observed before each pass.</param>
    public void Run(IReadOnlyList<SomaSession> callSessions, int[] callRows, ReadOnlySpan<float> x, Span<float> y, CancellationToken cancellation)
    {
        Begin(callSessions, callRows);
        var store = callSessions[0].Pool.Store;
        int count = callSessions.Count;
        if (OnePass(count) is { } single)
        {
            cancellation.ThrowIfCancellationRequested();
            var ws = EnsureWorkspace(single.Tokens, count);
            Prepare(ws, store, single, x, y);
        }
        else
        {
            var passes = PassPlan.Split(slots.AsSpan(0, count), rows, positions.AsSpan(0, count), layer.Options.MaxChunkTokens);
            var ws = EnsureWorkspace(layer.Options.MaxChunkTokens, Math.Min(count, layer.Options.MaxChunkTokens));
            Counters.DeviceCopies += save.Take(streams.Compute, store, slots.AsSpan(0, count), positions.AsSpan(0, count), rows);
            new PipelinedCall(this, ws, store, passes).Run(x, y, cancellation);
        }
    }

    /// <summary>
    /// Launches the pending commit of a one-pass call, after saving exactly the ring rows and fields it overwrites,
    /// and waits for it. Does nothing for a call of several passes (committed as they ran).
    /// </summary>
    public void Commit()
    {
        if (pending is not { } pass)
        {
            return;
        }

        var store = sessions![0].Pool.Store;
        int count = sessions.Count;
        var stream = streams.Compute;
        Counters.DeviceCopies += save.Take(stream, store, slots.AsSpan(0, count), positions.AsSpan(0, count), rows);
        launcher.Commit(workspace!, store, pass, pendingPlan!, stream);
        stream.Synchronize();
        Counters.HostWaits++;
        pending = null;
    }

    /// <summary>
    /// After a failure anywhere in the call: drains the streams and puts back what this layer's commits overwrote
    /// (nothing when none ran). Never loses the original exception: a restore that fails is logged.
    /// </summary>
    public void Rollback()
    {
        try
        {
            streams.Drain();
            save.Restore(streams.Compute);
        }
        catch (Exception ex)
        {
            Log.CommitFailed(engine.LayerLogger, ex);
        }
    }

    /// <summary>Advances the call's sessions by their rows (the call committed in every layer).</summary>
    public void Advance()
    {
        for (int s = 0; s < sessions!.Count; s++)
        {
            sessions[s].Position = positions[s] + rows[s];
        }
    }

    /// <summary>Forgets the call (its save, its pending pass and its sessions).</summary>
    public void End()
    {
        save.Clear();
        (sessions, pending, pendingPlan) = (null, null, null);
    }

    /// <summary>The plan of <paramref name="pass"/>, from the cache.</summary>
    /// <param name="pass">Which rows of which sessions.</param>
    public LaunchPlan PlanOf(PassPlan pass) => plans.For(PlanKey.Of(pass, ringWindow));

    /// <summary>Frees the scratch, the save and the streams. Never throws.</summary>
    public void Dispose()
    {
        workspace?.Dispose();
        workspace = null;
        save.Dispose();
        streams.Dispose();
    }

    /// <summary>
    /// Records the call's sessions, slots and positions, after checking that no session would pass
    /// <see cref="SomaSession.MaxPosition"/> and that a standard-attention KV cache has room for its rows.
    /// </summary>
    private void Begin(IReadOnlyList<SomaSession> callSessions, int[] callRows)
    {
        int count = callSessions.Count;
        if (slots.Length < count)
        {
            slots = new int[count];
            positions = new long[count];
        }

        for (int s = 0; s < count; s++)
        {
            slots[s] = callSessions[s].Slot;
            positions[s] = callSessions[s].Position;
            if (positions[s] + callRows[s] > SomaSession.MaxPosition)
            {
                throw new InvalidOperationException(
                    $"The session is at position {positions[s]} and the call adds {callRows[s]} tokens, past SomaSession.MaxPosition ({SomaSession.MaxPosition}).");
            }
        }

        for (int s = 0; layer.KvCapacity is { } capacity && s < count; s++)
        {
            if (positions[s] + callRows[s] > capacity)
            {
                throw new InvalidOperationException(
                    $"The KV cache is full: the session holds {positions[s]} of {capacity} tokens and the call adds {callRows[s]}.");
            }
        }

        (sessions, rows) = (callSessions, callRows);
        Counters.Reset();
        bool decode = true;
        int total = 0;
        for (int s = 0; s < count; s++)
        {
            decode &= callRows[s] == 1;
            total += callRows[s];
        }

        (Counters.Kind, Counters.Rows, Counters.Sessions) = (decode ? SomaCallKind.Decode : SomaCallKind.Prefill, total, count);
    }

    /// <summary>
    /// The call as one pass when every session has rows and they fit <see cref="SomaLayerOptions.MaxChunkTokens"/>,
    /// else null. The pass object is reused while the call's shape stays (every decode step), so it allocates nothing.
    /// </summary>
    private PassPlan? OnePass(int count)
    {
        long total = 0;
        for (int s = 0; s < count; s++)
        {
            if (rows[s] == 0)
            {
                return null;
            }

            total += rows[s];
        }

        if (total > layer.Options.MaxChunkTokens)
        {
            return null;
        }

        if (onePass is not { } pass || pass.Slots.Length != count || pass.Tokens != total)
        {
            pass = onePass = new PassPlan(new int[count], new int[count], new long[count], 0, (int)total);
        }

        slots.AsSpan(0, count).CopyTo(pass.Slots);
        rows.AsSpan(0, count).CopyTo(pass.Rows);
        positions.AsSpan(0, count).CopyTo(pass.First);
        return pass;
    }

    /// <summary>Upload, kernels, download, y copied out: writes scratch only; the commit waits for <see cref="Commit"/>.</summary>
    private void Prepare(Workspace ws, StateStore store, PassPlan pass, ReadOnlySpan<float> x, Span<float> y)
    {
        var stream = streams.Compute;
        var plan = PlanOf(pass);
        layer.OnStage(Stage.Upload);
        ws.First.Upload(stream, x);
        launcher.Launch(ws, ws.First, store, pass, plan, stream);
        layer.OnStage(Stage.Download);
        ws.First.Download(stream, y.Length);
        stream.Synchronize();
        (Counters.Uploads, Counters.Downloads, Counters.HostWaits) = (Counters.Uploads + 1, Counters.Downloads + 1, Counters.HostWaits + 1);
        ws.First.CopyOut(y);
        (pending, pendingPlan) = (pass, plan);
    }

    /// <summary>The layer's scratch for passes of <paramref name="rowsNeeded"/> rows in <paramref name="segments"/> sessions, grown (and the commit save with it) when too small.</summary>
    private Workspace EnsureWorkspace(int rowsNeeded, int segments)
    {
        if (workspace is { } ws && ws.Rows >= rowsNeeded && ws.Segments >= segments)
        {
            return ws;
        }

        int newRows = Math.Max(rowsNeeded, workspace?.Rows ?? 0);
        int newSegments = Math.Max(segments, workspace?.Segments ?? 0);
        var created = new Workspace(engine, layer.Options, (int)Math.Min(int.MaxValue, Math.Max(16, (long)newRows)), Math.Max(4, newSegments));
        workspace?.Dispose();
        workspace = created;

        // The commit save of a one-pass call of the workspace's size is allocated with it, not by the call.
        save.Reserve(Math.Min((long)created.Rows, (long)created.Segments * ringWindow), created.Segments);
        Log.WorkspaceGrows(engine.LayerLogger, created.Rows, created.Segments);
        return created;
    }
}
