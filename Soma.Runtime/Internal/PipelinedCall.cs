namespace Soma.Internal;

/// <summary>
/// A call of several passes, pipelined over the layer's three streams: while pass i computes, pass i+1's rows are
/// uploaded and pass i-1's output is downloaded, each through its own <see cref="PassIo"/> set (two alternate).
/// Each pass commits right after its kernels, because the next pass reads the ring it writes; each commit saves what
/// no earlier pass of the call overwrote (<see cref="CommitSave"/>), so a failed call still changes nothing.
/// </summary>
/// <remarks>
/// Order per pass i: wait for upload i (its block: metadata and rows); enqueue kernels and commit i on the compute
/// stream; stage and enqueue upload i+1; wait for download i-1 and copy it out; wait for the compute stream; enqueue download i. With
/// <see cref="SomaEngineOptions.OverlapCopies"/> off (benchmarks compare the two), all three are the compute stream.
/// </remarks>
/// <param name="runner">The layer's runner (streams, launcher, plans).</param>
/// <param name="ws">Scratch for passes of up to <see cref="SomaLayerOptions.MaxChunkTokens"/> rows.</param>
/// <param name="store">The sessions' state.</param>
/// <param name="passes">The call's passes, in order.</param>
internal sealed class PipelinedCall(CallRunner runner, Workspace ws, StateStore store, List<PassPlan> passes)
{
    /// <summary>
    /// Runs and commits every pass. On failure or cancellation it throws with work possibly left on the streams; the
    /// caller drains them and restores what the commits overwrote (<see cref="CallRunner.Rollback"/>).
    /// </summary>
    /// <param name="x">Input rows of the whole call.</param>
    /// <param name="y">Output rows of the whole call.</param>
    /// <param name="cancellation">Observed before each pass.</param>
    public void Run(ReadOnlySpan<float> x, Span<float> y, CancellationToken cancellation)
    {
        var layer = runner.Layer;
        var engine = layer.Engine;
        var streams = runner.Streams;
        int d = layer.Options.ModelDim;
        bool overlap = engine.Options.OverlapCopies;
        var compute = streams.Compute;
        var upload = overlap ? streams.Upload : compute;
        var download = overlap ? streams.Download : compute;
        var counters = runner.Counters;
        int tokens = 0, sessions = 0;
        foreach (var p in passes)
        {
            (tokens, sessions) = (tokens + p.Tokens, Math.Max(sessions, p.Slots.Length));
        }

        Log.CallPipelined(engine.LayerLogger, tokens, sessions, passes.Count);
        layer.OnStage(Stage.Upload);
        counters.UploadBytes += ws.Io(0).Upload(upload, passes[0], x.Slice(0, passes[0].Tokens * d));
        counters.Uploads++;
        for (int i = 0; i < passes.Count; i++)
        {
            // A cancelled call stops between passes and, like a failed one, is rolled back by its caller.
            cancellation.ThrowIfCancellationRequested();
            var pass = passes[i];
            var plan = runner.PlanOf(pass);
            var io = ws.Io(i);
            upload.Synchronize();
            counters.HostWaits++;
            runner.Launcher.Launch(ws, io, io.X(pass.Tokens * d), io.YView(pass.Tokens * d), store, pass, plan, compute);
            runner.Launcher.Commit(ws, io, store, pass, plan, compute, runner.Save);
            if (i + 1 < passes.Count)
            {
                layer.OnStage(Stage.Upload);
                var next = passes[i + 1];
                counters.UploadBytes += ws.Io(i + 1).Upload(upload, next, x.Slice(next.Offset * d, next.Tokens * d));
                counters.Uploads++;
            }

            if (i > 0)
            {
                download.Synchronize();
                counters.HostWaits++;
                var previous = passes[i - 1];
                ws.Io(i - 1).CopyOut(y.Slice(previous.Offset * d, previous.Tokens * d));
            }

            compute.Synchronize();
            layer.OnStage(Stage.Download);
            io.Download(download, pass.Tokens * d);
            (counters.HostWaits, counters.Downloads) = (counters.HostWaits + 1, counters.Downloads + 1);
            counters.DownloadBytes += sizeof(float) * (long)pass.Tokens * d;
        }

        download.Synchronize();
        counters.HostWaits++;
        var last = passes[^1];
        ws.Io(passes.Count - 1).CopyOut(y.Slice(last.Offset * d, last.Tokens * d));
    }
}
