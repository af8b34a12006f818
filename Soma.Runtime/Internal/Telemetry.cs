using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Soma.Internal;

/// <summary>
/// An engine's <see cref="System.Diagnostics.Metrics"/> instruments (a <see cref="Meter"/> named "Soma") and its
/// <see cref="System.Diagnostics.ActivitySource"/> "Soma" (one Activity "soma.call" per call). One instance per
/// engine, disposed with it, so that nothing is static and mutable and a listener can tell engines apart by
/// <see cref="Instrument.Meter"/>; listeners subscribe by the name "Soma" as usual.
/// Recording allocates nothing when nobody listens (an Activity exists only when an ActivityListener samples it).
/// </summary>
internal sealed class Telemetry : IDisposable
{
    /// <summary>The name of the meter and of the activity source.</summary>
    public const string Name = "Soma";

    private readonly Counter<long> calls;
    private readonly Counter<long> launches;
    private readonly Counter<long> bytes;
    private readonly Counter<long> flops;
    private readonly Histogram<double> duration;

    /// <summary>Creates the meter, its instruments and the activity source.</summary>
    public Telemetry()
    {
        Meter = new Meter(Name);
        Source = new ActivitySource(Name);
        calls = Meter.CreateCounter<long>("soma.calls", "{call}", "Completed layer and model calls.");
        launches = Meter.CreateCounter<long>("soma.launches", "{launch}", "Kernel launches of completed calls.");
        bytes = Meter.CreateCounter<long>("soma.device.bytes", "By", "Device bytes the launches of completed calls must read and write.");
        flops = Meter.CreateCounter<long>("soma.flops", "{flop}", "Floating-point operations of completed calls.");
        duration = Meter.CreateHistogram<double>("soma.call.duration", "ms", "Wall time of completed calls.");
    }

    /// <summary>The meter "Soma".</summary>
    public Meter Meter { get; }

    /// <summary>The activity source "Soma".</summary>
    public ActivitySource Source { get; }

    /// <summary>Starts the Activity of a call (null when no listener samples it).</summary>
    public Activity? Start() => Source.StartActivity("soma.call");

    /// <summary>Records a completed call: its counters into the instruments and, when there is one, its Activity's tags.</summary>
    /// <param name="call">The call's counters (for a model, summed over its layers).</param>
    /// <param name="activity">The call's Activity, stopped here; null when none.</param>
    public void Record(CallCounters call, Activity? activity)
    {
        var kind = new KeyValuePair<string, object?>("soma.kind", call.Kind == SomaCallKind.Decode ? "decode" : "prefill");
        int launched = call.Launches;
        calls.Add(1, kind);
        launches.Add(launched, kind);
        bytes.Add(call.BytesRead + call.BytesWritten, kind);
        flops.Add(call.Flops, kind);
        duration.Record(Stopwatch.GetElapsedTime(0, call.ElapsedTicks).TotalMilliseconds, kind);
        if (activity is not null)
        {
            activity.SetTag("soma.kind", kind.Value);
            activity.SetTag("soma.rows", call.Rows);
            activity.SetTag("soma.sessions", call.Sessions);
            activity.SetTag("soma.launches", launched);
            activity.Stop();
        }
    }

    /// <summary>Disposes the meter and the source. Never throws.</summary>
    public void Dispose()
    {
        Meter.Dispose();
        Source.Dispose();
    }
}
