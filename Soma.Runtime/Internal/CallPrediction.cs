namespace Soma.Internal;

/// <summary>
/// The performance model's prediction of one call on one described device (<see cref="PerformanceModel.Predict"/>):
/// each kernel's launches and time, then the copies and host waits. A prediction, not a measurement.
/// </summary>
/// <param name="Device">The described device's name.</param>
/// <param name="Constants">The model's constants it was computed with.</param>
/// <param name="Kernels">Launches of the call grouped by kernel and launch shape, in kernel-catalog order.</param>
/// <param name="Traffic">The call's copies, waits and host bytes.</param>
/// <param name="CopySeconds">Time of the copies: a fixed cost each plus the host bytes over the host link.</param>
/// <param name="HostWaitSeconds">Time of the host waits (their fixed cost; the work waited for is in the kernels).</param>
internal sealed record CallPrediction(
    string Device, PerformanceConstants Constants, IReadOnlyList<KernelPrediction> Kernels, CallTraffic Traffic, double CopySeconds, double HostWaitSeconds)
{
    /// <summary>Time of every launch together (work and launch costs).</summary>
    public double KernelSeconds => Kernels.Sum(k => k.Seconds);

    /// <summary>Time of the whole call: kernels, copies and host waits, one after another (nothing overlapped).</summary>
    public double Seconds => KernelSeconds + CopySeconds + HostWaitSeconds;

    /// <summary>Kernel launches of the call.</summary>
    public int Launches => Kernels.Sum(k => k.Launches);

    /// <summary>Device bytes the launches must read.</summary>
    public long BytesRead => Kernels.Sum(k => k.BytesRead);

    /// <summary>Device bytes the launches must write.</summary>
    public long BytesWritten => Kernels.Sum(k => k.BytesWritten);

    /// <summary>FLOPs of the launches.</summary>
    public long Flops => Kernels.Sum(k => k.Flops);
}

/// <summary>
/// The predicted launches of one kernel at one launch shape in a call: per launch, the larger of its bytes over the
/// usable bandwidth and its FLOPs over the usable FLOPs, divided by the share of the device's group slots its grid
/// keeps busy (wave quantisation), plus the launch cost.
/// </summary>
/// <param name="Kernel">The kernel's name (as in the kernel catalog).</param>
/// <param name="Launches">Launches of this kernel at this shape in the call.</param>
/// <param name="Grid">Groups per launch.</param>
/// <param name="GroupSize">Threads per group.</param>
/// <param name="SharedBytes">Dynamic shared memory per group, in bytes.</param>
/// <param name="GroupsPerMultiprocessor">Groups resident on one multiprocessor at once (threads, shared memory and the block limit; registers not counted).</param>
/// <param name="Waves">Waves of the grid over the device's group slots: ceil(grid / (multiprocessors x groups per multiprocessor)).</param>
/// <param name="Busy">Share of the group slots the grid keeps busy over its waves: grid / (waves x slots).</param>
/// <param name="BytesRead">Device bytes the launches must read (from the plan's cost).</param>
/// <param name="BytesWritten">Device bytes the launches must write.</param>
/// <param name="Flops">FLOPs of the launches.</param>
/// <param name="FlopBound">Whether the FLOPs, not the bytes, take longer.</param>
/// <param name="WorkSeconds">Time of the launches' work (without launch costs).</param>
/// <param name="Seconds">Time of the launches: work plus a launch cost each.</param>
internal sealed record KernelPrediction(
    string Kernel, int Launches, int Grid, int GroupSize, int SharedBytes, int GroupsPerMultiprocessor, long Waves, double Busy,
    long BytesRead, long BytesWritten, long Flops, bool FlopBound, double WorkSeconds, double Seconds);
