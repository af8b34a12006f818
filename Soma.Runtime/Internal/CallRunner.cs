using ILGPU;
using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// Runs one layer's part of a call (<see cref="LayerCall"/>): checks capacity, cuts the rows into passes, takes each
/// pass's plan from the cache and runs its launches (<see cref="PassLauncher"/>) on the layer's streams; then commits,
/// or restores what the commits overwrote. Owns the layer's streams, scratch and commit save. Holds the state of the
/// call in progress, so every method except <see cref="Dispose"/> runs under the layer's lock.
/// </summary>
/// <remarks>
/// A call of one pass (every decode, short prompts) enqueues its upload, kernels, save and commit in
/// <see cref="Run"/> and waits for nothing: the call waits once at its end (<see cref="LayerCall"/>). The commit
/// saves what it overwrites in the same launch (<see cref="CommitSave"/>), so whatever fails after it is enqueued (a
/// launch, a later layer, the wait) the caller can put it back with one restore launch (<see cref="Rollback"/>). A
/// call of several passes commits each pass as it goes (the next pass reads the ring); each commit saves only what
/// no earlier pass of the call wrote.
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
    private AcceleratorStream? callStream;
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
        var shapes = engine.Shapes.ForStorage(o.WeightStorage ?? SomaStorageType.Float32, o.RingStorage);
        plans = new PlanCache(key => LaunchPlan.Create(shapes, o, layer.IsStandardAttention, headsPerGroup, key));
        save = new CommitSave(engine, o.KvHeads * o.HeadDim, ringWindow, StorageTypes.Units(o.RingStorage), !layer.IsStandardAttention);
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

    /// <summary>The save area the call's commits write what they overwrite into.</summary>
    public CommitSave Save => save;

    /// <summary>Sessions whose state the runner saved for the call in progress (0: the call changed no state yet).</summary>
    public int SavedSessions => save.Sessions;

    /// <summary>Whether a call of <paramref name="callRows"/> runs as one pass (every session has rows, all fit one pass).</summary>
    /// <param name="callRows">Rows per session.</param>
    public bool FitsOnePass(int[] callRows)
    {
        long total = 0;
        for (int s = 0; s < callRows.Length; s++)
        {
            if (callRows[s] == 0)
            {
                return false;
            }

            total += callRows[s];
        }

        return total <= layer.Options.MaxChunkTokens;
    }

    /// <summary>
    /// Runs this layer's passes of a call for <paramref name="callSessions"/> (claimed by the caller). One pass: the
    /// upload block, kernels, y's download when y is on the host and the commit (which saves what it overwrites),
    /// all enqueued on <paramref name="stream"/> without waiting (the caller waits once, then <see cref="CopyOut"/>).
    /// Several passes: runs and commits them in turn (each commit saving what the call had not yet overwritten): pipelined over the
    /// layer's streams for host rows (waiting as it goes), on <paramref name="stream"/> for device rows.
    /// </summary>
    /// <param name="callSessions">The call's sessions of this layer.</param>
    /// <param name="callRows">Rows of x per session (laid out session after session).</param>
    /// <param name="io">The rows: host, device, or (one pass only) device or host input with y left in scratch.</param>
    /// <param name="stream">The call's stream (the layer's compute stream, the first layer's for a model, or the caller's).</param>
    /// <param name="cancellation">Observed before each pass.</param>
    /// <returns>Where y is on the device (invalid for host rows of several passes).</returns>
    public ArrayView<float> Run(
        IReadOnlyList<SomaSession> callSessions, int[] callRows, CallIo io, AcceleratorStream stream, CancellationToken cancellation)
    {
        Begin(callSessions, callRows);
        callStream = stream;
        var store = callSessions[0].Pool.Store;
        int count = callSessions.Count;
        if (OnePass(count) is { } single)
        {
            cancellation.ThrowIfCancellationRequested();
            return RunOnePass(EnsureWorkspace(single.Tokens, count), store, single, io, stream);
        }

        var passes = PassPlan.Split(slots.AsSpan(0, count), rows, positions.AsSpan(0, count), layer.Options.MaxChunkTokens);
        var ws = EnsureWorkspace(layer.Options.MaxChunkTokens, Math.Min(count, layer.Options.MaxChunkTokens));
        save.Begin(store, slots.AsSpan(0, count), positions.AsSpan(0, count), rows);
        if (io.OnDevice)
        {
            RunOnDevice(ws, store, passes, io.DeviceX, io.DeviceY, stream, cancellation);
            return io.DeviceY;
        }

        new PipelinedCall(this, ws, store, passes).Run(io.HostX, io.HostY, cancellation);
        return default;
    }

    /// <summary>
    /// Copies the one-pass call's downloaded y into <paramref name="y"/>; call once the call's stream has been
    /// synchronized.
    /// </summary>
    /// <param name="y">The caller's output rows.</param>
    public void CopyOut(Span<float> y) => workspace!.First.CopyOut(y);

    /// <summary>
    /// After a failure anywhere in the call: drains the streams and puts back what this layer's commits overwrote
    /// (nothing when none ran). Never loses the original exception: a restore that fails is logged.
    /// </summary>
    public void Rollback()
    {
        try
        {
            streams.Drain(callStream);
            workspace?.ClearArrivals(streams.Compute);
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

    /// <summary>Forgets the call (its save, its stream and its sessions).</summary>
    public void End()
    {
        save.Clear();
        (sessions, callStream) = (null, null);
    }

    /// <summary>The plan of <paramref name="pass"/>, from the cache.</summary>
    /// <param name="pass">Which rows of which sessions.</param>
    public LaunchPlan PlanOf(PassPlan pass) => plans.For(PlanKey.Of(pass, ringWindow));

    /// <summary>
    /// Test hook: the device work of this layer's part of its last one-pass call alone, as the allocation baseline of
    /// a decode step: its upload block as packed, the plan's launches, y's download, the commit launch (with its
    /// save) and one wait, without claims, checks, packing, counters or telemetry. Writes the sessions' state
    /// again (a test measures with it and discards them).
    /// </summary>
    /// <param name="session">A session of the last call's pool.</param>
    /// <param name="stream">The stream to run on (null: the layer's compute stream).</param>
    /// <param name="hostX">Whether the call's block carried x (host input).</param>
    /// <param name="hostY">Whether the call downloaded y (host output of its last layer).</param>
    /// <param name="wait">Whether the call waited after this layer (its last layer).</param>
    internal void ReplayLastPass(SomaSession session, AcceleratorStream? stream = null, bool hostX = true, bool hostY = true, bool wait = true)
    {
        var (ws, pass, store) = (workspace!, onePass!, session.Pool.Store);
        stream ??= streams.Compute;
        var plan = PlanOf(pass);
        int length = pass.Tokens * layer.Options.ModelDim;
        ws.First.Send(stream, ws.First.MetadataInts + (hostX ? length : 0));
        launcher.Launch(ws, ws.First, ws.First.X(length), ws.First.YView(length), store, pass, plan, stream);
        if (hostY)
        {
            ws.First.Download(stream, length);
        }

        save.Begin(store, pass.Slots, pass.First, pass.Rows);
        launcher.Commit(ws, ws.First, store, pass, plan, stream, save);
        if (wait)
        {
            stream.Synchronize();
        }

        save.Clear();
    }

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

    /// <summary>
    /// Enqueues a one-pass call on <paramref name="stream"/>: one upload (metadata, and x when on the host), kernels,
    /// y's download when on the host, the commit (saving exactly what it overwrites). Waits for nothing.
    /// </summary>
    private ArrayView<float> RunOnePass(Workspace ws, StateStore store, PassPlan pass, CallIo io, AcceleratorStream stream)
    {
        var plan = PlanOf(pass);
        var block = ws.First;
        int length = pass.Tokens * layer.Options.ModelDim;
        layer.OnStage(Stage.Upload);
        Counters.UploadBytes += block.Upload(stream, pass, io.HostX);
        Counters.Uploads++;
        var y = io.YOnDevice ? io.DeviceY : block.YView(length);
        launcher.Launch(ws, block, io.XOnDevice ? io.DeviceX : block.X(length), y, store, pass, plan, stream);
        if (io.YOnHost)
        {
            layer.OnStage(Stage.Download);
            block.Download(stream, length);
            (Counters.Downloads, Counters.DownloadBytes) = (Counters.Downloads + 1, Counters.DownloadBytes + sizeof(float) * (long)length);
        }

        int count = pass.Slots.Length;
        save.Begin(store, slots.AsSpan(0, count), positions.AsSpan(0, count), rows);
        launcher.Commit(ws, block, store, pass, plan, stream, save);
        return y;
    }

    /// <summary>
    /// Runs and commits several passes whose rows are device views, in order on <paramref name="stream"/>. A device
    /// call leaves the x part of the workspace's first upload block free, so the metadata of as many passes as that
    /// block holds (every pass of a prompt of up to about D/3 passes) is packed one after another and sent in one copy:
    /// the host waits only when the block must be packed again.
    /// </summary>
    private void RunOnDevice(
        Workspace ws, StateStore store, List<PassPlan> passes, ArrayView<float> x, ArrayView<float> y, AcceleratorStream stream,
        CancellationToken cancellation)
    {
        int d = layer.Options.ModelDim;
        var block = ws.First;
        for (int i = 0; i < passes.Count;)
        {
            if (i > 0)
            {
                stream.Synchronize();
                Counters.HostWaits++;
            }

            int end = i, packed = 0;
            for (; end < passes.Count && (end == i || block.Fits(passes[end], packed)); end++)
            {
                packed = block.Pack(passes[end], packed);
            }

            layer.OnStage(Stage.Upload);
            Counters.UploadBytes += block.Send(stream, packed);
            Counters.Uploads++;
            for (int at = 0; i < end; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                var pass = passes[i];
                var plan = PlanOf(pass);
                at = block.Select(pass, at);
                long offset = (long)pass.Offset * d, length = (long)pass.Tokens * d;
                launcher.Launch(ws, block, x.SubView(offset, length), y.SubView(offset, length), store, pass, plan, stream);
                launcher.Commit(ws, block, store, pass, plan, stream, save);
            }
        }
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
        save.Reserve(created.Rows, created.Segments);
        Log.WorkspaceGrows(engine.LayerLogger, created.Rows, created.Segments);
        return created;
    }
}
