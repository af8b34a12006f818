using ILGPU;
using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// The one call path of layers and models: claims every session, enters each layer in order, runs its passes
/// (<see cref="CallRunner.Run"/>, whose commits save what they overwrite), waits once,
/// then advances the positions, or rolls every layer back. A layer call is a call through one layer; a model call goes through its layers in order, layer l's
/// output being layer l+1's input.
/// </summary>
/// <remarks>
/// The sessions are claimed before the call waits for any layer, so a session busy with another call throws
/// <see cref="InvalidOperationException"/> at once, and released only after the call has committed or rolled back
/// in every layer (a session disposed meanwhile returns its slot then). Layers are entered in model order and held to
/// the end. Each layer's commit, enqueued on the call's one stream, saves exactly what it overwrites in the same
/// launch (<see cref="CommitSave"/>), so a failure anywhere after it (a launch, a later layer, cancellation, the
/// final wait) restores every layer whose commit was enqueued, by one restore launch each, and a failure before any
/// commit changes nothing.
/// </remarks>
internal static class LayerCall
{
    /// <summary>Runs rows[s] tokens of x for each sequence s through <paramref name="layers"/> into y.</summary>
    /// <param name="layers">The layers, in order (one for a layer call).</param>
    /// <param name="perLayer">For each layer, the call's sessions of that layer (sequence s at index s).</param>
    /// <param name="rows">Rows of x per sequence (laid out sequence after sequence).</param>
    /// <param name="io">Input rows [sum(rows), D] and output rows of the same shape: host spans or device views.</param>
    /// <param name="stream">The caller's stream for a call on device views, or null: the first layer's compute stream.</param>
    /// <param name="cancellation">Observed before each layer and each pass.</param>
    /// <param name="total">
    /// For a model call, its counters, set to the sum over the layers once the call has completed; null for a layer
    /// call (each layer publishes its own part into <see cref="SomaLayer.LastCounters"/> either way).
    /// </param>
    /// <param name="between">
    /// For a whole-model call (device views only), what is enqueued on the call's stream after each layer's passes
    /// (<see cref="IBetweenLayers"/>): every layer then reads x and writes y; null for plain composition.
    /// </param>
    public static void Run(
        IReadOnlyList<SomaLayer> layers, CallSessions perLayer, int[] rows, CallIo io, AcceleratorStream? stream,
        CancellationToken cancellation, CallCounters? total = null, IBetweenLayers? between = null)
    {
        if (between is not null && !io.OnDevice)
        {
            throw new ArgumentException("A call with a hook between its layers runs on device views.", nameof(io));
        }

        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        SessionClaims.ClaimAll(perLayer);
        var activity = layers[0].Engine.Telemetry.Start();
        int entered = 0;
        try
        {
            var last = layers[layers.Count - 1].Runner;
            var callStream = stream ?? layers[0].Runner.Streams.Compute;
            bool onePass = layers[0].Runner.FitsOnePass(rows);

            // Host rows of several passes go from layer to layer through host memory (each layer pipelines its copies).
            var temp = !io.OnDevice && !onePass && layers.Count > 1 ? new float[io.HostX.Length] : Array.Empty<float>();
            try
            {
                ArrayView<float> previous = default;
                for (int l = 0; l < layers.Count; l++)
                {
                    Monitor.Enter(layers[l].Gate);
                    entered++;
                    ThrowIfDisposed(layers[l], perLayer[l]);
                    cancellation.ThrowIfCancellationRequested();
                    previous = layers[l].Runner.Run(perLayer[l], rows, IoOf(io, l, layers.Count, onePass, previous, temp, between), callStream, cancellation);
                    between?.After(l, callStream);
                }

                // One wait for the whole call (a call of host rows in several passes waited as it went).
                if (onePass || io.OnDevice)
                {
                    callStream.Synchronize();
                    last.Counters.HostWaits++;
                    if (io.YOnHost)
                    {
                        last.CopyOut(io.HostY);
                    }
                }
            }
            catch (Exception ex)
            {
                RollBack(layers, entered, ex);
                throw;
            }

            for (int l = 0; l < layers.Count; l++)
            {
                layers[l].Runner.Advance();
            }

            Publish(layers, total, System.Diagnostics.Stopwatch.GetTimestamp() - started, GC.GetAllocatedBytesForCurrentThread() - allocated, activity);
            activity = null;
        }
        finally
        {
            for (int l = entered - 1; l >= 0; l--)
            {
                layers[l].Runner.End();
                Monitor.Exit(layers[l].Gate);
            }

            SessionClaims.ReleaseAll(perLayer);

            // Still here only when the call failed (a completed call's Activity was stopped by Publish).
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error);
            activity?.Dispose();
        }
    }

    /// <summary>
    /// Layer <paramref name="l"/>'s rows of the call. Device views: the first layer reads x and writes y, the others
    /// run in place on y (a pass reads its rows of x before it writes the same rows of y). Host rows in one pass: x is
    /// uploaded by the first layer, each layer reads the previous one's output on the device (<paramref name="previous"/>)
    /// and only the last downloads y. Host rows in several passes: through y and a host buffer in turn. With a hook
    /// between the layers (<paramref name="between"/>), every layer reads x and writes y: the hook turns y into the next x.
    /// </summary>
    private static CallIo IoOf(CallIo io, int l, int count, bool onePass, ArrayView<float> previous, float[] temp, IBetweenLayers? between)
    {
        if (io.OnDevice)
        {
            return l == 0 || between is not null ? io : CallIo.Device(io.DeviceY, io.DeviceY);
        }

        if (onePass)
        {
            return new CallIo(l == 0 ? io.HostX : default, previous, l == count - 1 ? io.HostY : default, default);
        }

        return CallIo.Host(l == 0 ? io.HostX : OutputOf(l - 1, count, io.HostY, temp), OutputOf(l, count, io.HostY, temp));
    }

    /// <summary>
    /// For a completed call that still holds every layer: copies each layer's counters into what
    /// <see cref="SomaLayer.LastCallProfile"/> reads, sums them into <paramref name="total"/> for a model, and records
    /// the call in the engine's telemetry. Allocates nothing.
    /// </summary>
    private static void Publish(
        IReadOnlyList<SomaLayer> layers, CallCounters? total, long elapsedTicks, long managedBytes, System.Diagnostics.Activity? activity)
    {
        for (int l = 0; l < layers.Count; l++)
        {
            var counters = layers[l].Runner.Counters;
            (counters.ElapsedTicks, counters.ManagedBytes, counters.Completed) = (elapsedTicks, managedBytes, true);
            lock (layers[l].LastCounters)
            {
                layers[l].LastCounters.CopyFrom(counters);
            }
        }

        var call = layers[0].Runner.Counters;
        if (total is not null)
        {
            lock (total)
            {
                total.CopyFrom(call);
                for (int l = 1; l < layers.Count; l++)
                {
                    total.Add(layers[l].Runner.Counters);
                }

                call = total;
                layers[0].Engine.Telemetry.Record(call, activity);
            }
        }
        else
        {
            layers[0].Engine.Telemetry.Record(call, activity);
        }
    }

    /// <summary>
    /// For a call that holds the layer's lock and the sessions' claims: throws <see cref="ObjectDisposedException"/>
    /// when the layer or any of the sessions was disposed while the call waited for the layer. Nothing has touched
    /// the device yet, so the call ends changing nothing.
    /// </summary>
    private static void ThrowIfDisposed(SomaLayer layer, IReadOnlyList<SomaSession> sessions)
    {
        layer.ThrowIfDisposed();
        for (int s = 0; s < sessions.Count; s++)
        {
            sessions[s].ThrowIfDisposed();
        }
    }

    /// <summary>Where layer <paramref name="l"/> of <paramref name="count"/> writes: y for the last, alternately before.</summary>
    private static Span<float> OutputOf(int l, int count, Span<float> y, float[] temp) => (count - 1 - l) % 2 == 0 ? y : temp;

    /// <summary>Restores every entered layer (last first) and logs what the failure cost.</summary>
    private static void RollBack(IReadOnlyList<SomaLayer> layers, int entered, Exception ex)
    {
        int restored = 0;
        for (int l = entered - 1; l >= 0; l--)
        {
            restored += layers[l].Runner.SavedSessions;
            layers[l].Runner.Rollback();
        }

        var logger = layers[0].Engine.LayerLogger;
        if (restored > 0)
        {
            Log.CallRolledBack(logger, restored, ex);
        }
        else
        {
            Log.CallFailed(logger, ex);
        }
    }
}
