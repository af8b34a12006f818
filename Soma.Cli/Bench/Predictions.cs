using Soma.Internal;

namespace Soma.Cli.Bench;

/// <summary>
/// Predictions of a call on the built-in GPU descriptions (H100 SXM, H200) at a layer shape: launches, bytes and FLOPs
/// from each description's plans, copies and waits from the call's profile (taken on whatever accelerator ran it: the
/// call path is the same on every accelerator).
/// </summary>
internal static class Predictions
{
    /// <summary>The descriptions predictions are made for.</summary>
    public static IReadOnlyList<DeviceDescription> Devices { get; } = new[] { DeviceDescription.H100Sxm, DeviceDescription.H200 };

    /// <summary>
    /// The predictions on every description of <see cref="Devices"/> of a host-span call of <paramref name="sessions"/>
    /// sessions (one; more: batched decode) with <paramref name="rows"/> rows each from <paramref name="position"/>
    /// through a layer of options <paramref name="o"/>, whose copies and waits were <paramref name="profile"/>'s; null
    /// without a profile. Tokens/s count every session's rows.
    /// </summary>
    public static IReadOnlyList<PredictionRecord>? For(SomaLayerOptions o, int rows, long position, SomaCallProfile? profile, int sessions = 1)
    {
        if (profile is null)
        {
            return null;
        }

        var passes = PerformanceModel.Passes(o, rows, position, sessions);
        var traffic = CallTraffic.OfHostCall(profile, o, rows * sessions);
        return Devices.Select(d => PredictionRecord.Of(PerformanceModel.Predict(d, o, passes, traffic), rows * sessions, passes.Count)).ToArray();
    }
}
