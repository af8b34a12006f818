namespace Soma.Internal;

/// <summary>
/// What a call does besides its launches, as the performance model (<see cref="PerformanceModel"/>) takes it: the
/// copies and host waits of its call path (a <see cref="SomaCallProfile"/>'s counts) and the bytes of input and output
/// rows that cross the host link.
/// </summary>
/// <param name="Uploads">Host-to-device copies.</param>
/// <param name="Downloads">Device-to-host copies.</param>
/// <param name="HostWaits">Stream synchronizations.</param>
/// <param name="DeviceCopies">Device-to-device copies.</param>
/// <param name="HostBytes">Bytes that cross the host link, both ways together.</param>
internal readonly record struct CallTraffic(int Uploads, int Downloads, int HostWaits, int DeviceCopies, long HostBytes)
{
    /// <summary>
    /// The traffic of a call that took <paramref name="profile"/>'s copies and waits and moved <paramref name="rows"/>
    /// input rows up and as many output rows down at fp32 (a call through host spans: x uploaded, y downloaded).
    /// </summary>
    /// <param name="profile">The call's profile (only its copies and waits are read).</param>
    /// <param name="o">The layer's options (the model width of a row).</param>
    /// <param name="rows">Rows of the call.</param>
    public static CallTraffic OfHostCall(SomaCallProfile profile, SomaLayerOptions o, int rows)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentNullException.ThrowIfNull(o);
        return new(profile.Uploads, profile.Downloads, profile.HostWaits, profile.DeviceCopies, 2L * rows * o.ModelDim * sizeof(float));
    }
}
