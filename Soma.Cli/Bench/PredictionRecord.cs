using Soma.Internal;

namespace Soma.Cli.Bench;

/// <summary>
/// A call's time on a GPU description as the performance model predicts it (<see cref="PerformanceModel"/>): not
/// measured. The counts are those of the description's plans (launches, device bytes, FLOPs) and of the call path
/// (copies, waits); <see cref="Constants"/> says which constants, and whether a GPU run calibrated them.
/// </summary>
/// <param name="Device">The description's name (a built-in description, not a device that ran).</param>
/// <param name="Constants">Which GPU run calibrated the model's constants, or that none did.</param>
/// <param name="StepMicroseconds">The whole call: kernels, copies and host waits (a decode step; for prefill the whole prompt).</param>
/// <param name="KernelMicroseconds">Every launch together, launch costs included.</param>
/// <param name="LaunchMicroseconds">The launch costs alone (part of <paramref name="KernelMicroseconds"/>).</param>
/// <param name="CopyMicroseconds">The copies (fixed cost each plus input and output rows over the host link).</param>
/// <param name="HostWaitMicroseconds">The host waits' fixed costs.</param>
/// <param name="TokensPerSecond">Rows of the call over <paramref name="StepMicroseconds"/>.</param>
/// <param name="Passes">Passes of the call.</param>
/// <param name="Launches">Kernel launches of the call.</param>
/// <param name="Uploads">Host-to-device copies.</param>
/// <param name="Downloads">Device-to-host copies.</param>
/// <param name="HostWaits">Host waits.</param>
/// <param name="DeviceCopies">Device-to-device copies.</param>
/// <param name="DeviceBytesRead">Device bytes the launches must read.</param>
/// <param name="DeviceBytesWritten">Device bytes the launches must write.</param>
/// <param name="Flops">FLOPs of the launches.</param>
/// <param name="Kernels">Each kernel at each launch shape.</param>
internal sealed record PredictionRecord(
    string Device, string Constants, double StepMicroseconds, double KernelMicroseconds, double LaunchMicroseconds, double CopyMicroseconds,
    double HostWaitMicroseconds, double TokensPerSecond, int Passes, int Launches, int Uploads, int Downloads, int HostWaits, int DeviceCopies,
    long DeviceBytesRead, long DeviceBytesWritten, long Flops, IReadOnlyList<PredictedKernelRecord> Kernels)
{
    /// <summary>The record of <paramref name="p"/>, a call of <paramref name="rows"/> rows in <paramref name="passes"/> passes.</summary>
    public static PredictionRecord Of(CallPrediction p, int rows, int passes)
    {
        var t = p.Traffic;
        return new(
            p.Device, p.Constants.CalibratedBy, Us(p.Seconds), Us(p.KernelSeconds), Us(p.Kernels.Sum(k => k.Seconds - k.WorkSeconds)), Us(p.CopySeconds),
            Us(p.HostWaitSeconds), rows / p.Seconds, passes, p.Launches, t.Uploads, t.Downloads, t.HostWaits, t.DeviceCopies, p.BytesRead, p.BytesWritten, p.Flops,
            p.Kernels.Select(k => new PredictedKernelRecord(
                k.Kernel, k.Launches, k.Grid, k.GroupSize, k.SharedBytes, k.GroupsPerMultiprocessor, k.Waves, k.Busy, k.BytesRead, k.BytesWritten, k.Flops,
                k.FlopBound ? "flops" : "bytes", Us(k.Seconds))).ToArray());
    }

    private static double Us(double seconds) => seconds * 1e6;
}

/// <summary>One kernel at one launch shape in a predicted call (<see cref="KernelPrediction"/>).</summary>
/// <param name="Kernel">The kernel's name.</param>
/// <param name="Launches">Its launches in the call.</param>
/// <param name="Grid">Groups per launch.</param>
/// <param name="GroupSize">Threads per group.</param>
/// <param name="SharedBytes">Dynamic shared memory per group.</param>
/// <param name="GroupsPerMultiprocessor">Groups resident per multiprocessor (registers not counted).</param>
/// <param name="Waves">Waves of the grid over the device's group slots.</param>
/// <param name="Busy">Share of the group slots the grid keeps busy (wave quantisation).</param>
/// <param name="BytesRead">Device bytes the launches must read.</param>
/// <param name="BytesWritten">Device bytes the launches must write.</param>
/// <param name="Flops">FLOPs of the launches.</param>
/// <param name="Bound">"bytes" or "flops": which takes longer.</param>
/// <param name="Microseconds">The launches' predicted time, launch costs included.</param>
internal sealed record PredictedKernelRecord(
    string Kernel, int Launches, int Grid, int GroupSize, int SharedBytes, int GroupsPerMultiprocessor, long Waves, double Busy,
    long BytesRead, long BytesWritten, long Flops, string Bound, double Microseconds);
