using Soma.Internal;

namespace Soma.Tests;

/// <summary>Counting a call allocates nothing: the counters' per-call operations and the telemetry with no listener.</summary>
public sealed class CallCountersTests
{
    [Fact]
    public void CountingPublishingAndRecordingACall_AllocatesNothing()
    {
        var o = new SomaLayerOptions(8, 2, 1, 4, window: 4, ropeTheta: 10000.0);
        var cost = LaunchPlan.For(DeviceDescription.H100Sxm, o, new PlanKey(1, 1, 4, 1)).Cost;
        var call = new CallCounters();
        var published = new CallCounters();
        var model = new CallCounters();
        using var telemetry = new Telemetry();
        Count(call, published, model, cost, telemetry);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            Count(call, published, model, cost, telemetry);
        }

        GC.GetAllocatedBytesForCurrentThread().Should().Be(before);
        model.Launches.Should().Be(2 * call.Launches);
        published.ToProfile().Launches.Should().Be(call.Launches).And.Be(cost.Launches.Sum() + 1);
    }

    /// <summary>What a two-layer model call does with its counters: reset, one pass and commit a layer, publish, sum, record.</summary>
    private static void Count(CallCounters call, CallCounters published, CallCounters model, PassCost cost, Telemetry telemetry)
    {
        call.Reset();
        (call.Kind, call.Rows, call.Sessions) = (SomaCallKind.Decode, 1, 1);
        call.AddPass(cost);
        call.AddCommit(cost);
        (call.Uploads, call.HostWaits, call.Completed) = (call.Uploads + 1, call.HostWaits + 2, true);
        published.CopyFrom(call);
        model.CopyFrom(call);
        model.Add(call);
        var activity = telemetry.Start();
        telemetry.Record(model, activity);
    }
}
