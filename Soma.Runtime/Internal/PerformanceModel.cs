using ILGPU;
using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// Predicts a call's time on a described device (<see cref="DeviceDescription.H100Sxm"/>, <see cref="DeviceDescription.H200"/>)
/// from what the runtime counts, without running anything on it: the launches, their shapes, bytes and FLOPs come from
/// the plans the device's description gives (<see cref="LaunchPlan.For"/>, <see cref="PassCost"/>; no kernel math
/// here), the copies and host waits from the call's profile. A prediction, never a measurement.
/// </summary>
/// <remarks>
/// Per launch: max(bytes / (e_B x bandwidth), FLOPs / (e_F x peak fp32 FLOPs)) / busy + launch cost, where bytes are
/// what the launch must read and write, and busy = grid / (waves x slots) is the share of the device's group slots
/// (multiprocessors x groups resident per multiprocessor) the grid keeps busy over its ceil(grid / slots) waves: a
/// grid smaller than the device, or a last wave partly empty, leaves bandwidth and FLOPs unused. Groups per
/// multiprocessor are limited by threads, shared memory (with the per-group reserve) and the resident-block limit;
/// registers are not counted (a description has no compiled kernel). A call adds a fixed cost per copy, its input and
/// output rows over the host link, and a fixed cost per host wait; nothing is overlapped (launches, copies and waits
/// add up), so copies that a pipelined prefill overlaps with kernels are counted in full. The constants are
/// <see cref="PerformanceConstants"/>.
/// </remarks>
internal static class PerformanceModel
{
    /// <summary>The predicted time of a call of <paramref name="passes"/> through a layer of options <paramref name="o"/> on <paramref name="device"/>.</summary>
    /// <param name="device">A description with memory bandwidth, peak fp32 FLOPs and host-link bandwidth (the built-in GPU descriptions have them).</param>
    /// <param name="o">The layer's options.</param>
    /// <param name="passes">The call's passes, each committed (<see cref="Passes"/>).</param>
    /// <param name="traffic">The call's copies, waits and host bytes (from its profile: <see cref="CallTraffic.OfHostCall"/>).</param>
    /// <param name="constants">The model's constants; null for <see cref="PerformanceConstants.Assumed"/>.</param>
    /// <param name="standard">True for the standard-attention baseline (no field scan).</param>
    public static CallPrediction Predict(
        DeviceDescription device, SomaLayerOptions o, IReadOnlyList<PlanKey> passes, CallTraffic traffic, PerformanceConstants? constants = null, bool standard = false)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(o);
        ArgumentNullException.ThrowIfNull(passes);
        var c = constants ?? PerformanceConstants.Assumed;
        double hostLink = device.HostLinkBandwidth
            ?? throw new ArgumentException($"The description of {device.Name} has no host-link bandwidth; the model needs it.", nameof(device));
        var launches = new List<KernelPrediction>();
        foreach (var key in passes)
        {
            var plan = LaunchPlan.For(device, o, key, standard);
            var cost = plan.Cost;
            for (int i = 0; i < cost.Launches.Length; i++)
            {
                if (cost.Launches[i] > 0)
                {
                    string name = KernelCatalog.All[i].Name;
                    launches.Add(Launch(device, c, name, ConfigOf(plan, name), cost.Launches[i], cost.KernelBytesRead[i], cost.KernelBytesWritten[i], cost.KernelFlops[i]));
                }
            }

            launches.Add(Launch(device, c, "commit", plan.CommitConfig, 1, cost.CommitBytes, cost.CommitBytes, 0));
        }

        double copies = (traffic.Uploads + traffic.Downloads + traffic.DeviceCopies) * c.CopySeconds + traffic.HostBytes / (c.HostLinkEfficiency * hostLink);
        return new CallPrediction(device.Name, c, Merge(launches), traffic, copies, traffic.HostWaits * c.HostWaitSeconds);
    }

    /// <summary>
    /// The predicted time of <paramref name="launches"/> launches of <paramref name="kernel"/> at <paramref name="config"/>
    /// that together must read <paramref name="bytesRead"/> and write <paramref name="bytesWritten"/> device bytes and
    /// compute <paramref name="flops"/> FLOPs.
    /// </summary>
    /// <param name="device">A description with memory bandwidth and peak fp32 FLOPs.</param>
    /// <param name="c">The model's constants.</param>
    /// <param name="kernel">The kernel's name.</param>
    /// <param name="config">Grid, group size and dynamic shared memory of each launch.</param>
    /// <param name="launches">Launches (&gt;= 1), each an equal share of the work.</param>
    /// <param name="bytesRead">Device bytes the launches must read.</param>
    /// <param name="bytesWritten">Device bytes the launches must write.</param>
    /// <param name="flops">FLOPs of the launches.</param>
    public static KernelPrediction Launch(
        DeviceDescription device, PerformanceConstants c, string kernel, KernelConfig config, int launches, long bytesRead, long bytesWritten, long flops)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(c);
        ArgumentOutOfRangeException.ThrowIfLessThan(launches, 1);
        double bandwidth = device.MemoryBandwidth
            ?? throw new ArgumentException($"The description of {device.Name} has no memory bandwidth; the model needs it.", nameof(device));
        double peak = device.PeakFp32Flops
            ?? throw new ArgumentException($"The description of {device.Name} has no peak fp32 FLOPs; the model needs them.", nameof(device));
        int grid = config.GridDim.Size, group = config.GroupDim.Size, shared = config.SharedMemoryConfig.ArraySize;
        int perMultiprocessor = GroupsPerMultiprocessor(device, group, shared);
        long slots = (long)device.Multiprocessors * perMultiprocessor;
        long waves = (grid + slots - 1) / slots;
        double busy = grid / (double)(waves * slots);
        double memory = (bytesRead + bytesWritten) / (c.BandwidthEfficiency * bandwidth);
        double compute = flops / (c.ComputeEfficiency * peak);
        double work = Math.Max(memory, compute) / busy;
        return new KernelPrediction(
            kernel, launches, grid, group, shared, perMultiprocessor, waves, busy, bytesRead, bytesWritten, flops, compute > memory, work, work + launches * c.LaunchSeconds);
    }

    /// <summary>
    /// Groups of <paramref name="groupSize"/> threads with <paramref name="sharedBytes"/> of dynamic shared memory each
    /// that one multiprocessor of <paramref name="device"/> holds at once (at least 1): the description's own limits
    /// (<see cref="DeviceDescription.GroupsPerMultiprocessor"/>).
    /// </summary>
    /// <param name="device">The device.</param>
    /// <param name="groupSize">Threads per group.</param>
    /// <param name="sharedBytes">Dynamic shared memory per group, in bytes.</param>
    public static int GroupsPerMultiprocessor(DeviceDescription device, int groupSize, int sharedBytes)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentOutOfRangeException.ThrowIfLessThan(groupSize, 1);
        return Math.Max(1, device.GroupsPerMultiprocessor(kernel: string.Empty, groupSize, sharedBytes));
    }

    /// <summary>
    /// The pass keys of a call of <paramref name="sessions"/> sessions (one by default; more: a batched call), each
    /// with <paramref name="rows"/> rows from <paramref name="position"/>: the runtime's own cut
    /// (<see cref="PassPlan.Split"/>, <see cref="PlanKey.Of"/>), so the model plans what a call would.
    /// </summary>
    /// <param name="o">The layer's options (its pass length and window).</param>
    /// <param name="rows">Rows of the call a session (1 for a decode step).</param>
    /// <param name="position">Each session's position before the call.</param>
    /// <param name="sessions">Sessions of the call (B of a batched decode).</param>
    public static IReadOnlyList<PlanKey> Passes(SomaLayerOptions o, int rows, long position, int sessions = 1)
    {
        ArgumentNullException.ThrowIfNull(o);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfLessThan(sessions, 1);
        return PassPlan.Split(
                Enumerable.Range(0, sessions).ToArray(), Enumerable.Repeat(rows, sessions).ToArray(), Enumerable.Repeat(position, sessions).ToArray(), o.MaxChunkTokens)
            .Select(p => PlanKey.Of(p, o.Window)).ToArray();
    }

    /// <summary>The launch of <paramref name="kernel"/> in <paramref name="plan"/>.</summary>
    private static KernelConfig ConfigOf(LaunchPlan plan, string kernel) => kernel switch
    {
        "rope-table" => plan.RopeConfig,
        "qkv" or "qkv-gemv" => plan.QkvConfig,
        "qkv-reduce" => plan.QkvReduceConfig,
        "field-scan" => plan.ScanConfig,
        "attention" or "attention-decode" => plan.AttentionConfig,
        "attention-combine" => plan.CombineConfig,
        "linear" or "linear-gemv" => plan.OutConfig,
        "linear-reduce" => plan.OutReduceConfig,
        "commit" => plan.CommitConfig,
        _ => throw new ArgumentOutOfRangeException(nameof(kernel), kernel, "The performance model does not know this kernel's launch in a plan."),
    };

    /// <summary>Launches of the same kernel at the same shape summed into one entry, in kernel-catalog order.</summary>
    private static KernelPrediction[] Merge(List<KernelPrediction> launches) => launches
        .GroupBy(k => (k.Kernel, k.Grid, k.GroupSize, k.SharedBytes))
        .Select(g => g.Aggregate((a, b) => a with
        {
            Launches = a.Launches + b.Launches,
            BytesRead = a.BytesRead + b.BytesRead,
            BytesWritten = a.BytesWritten + b.BytesWritten,
            Flops = a.Flops + b.Flops,
            FlopBound = a.FlopBound && b.FlopBound,
            WorkSeconds = a.WorkSeconds + b.WorkSeconds,
            Seconds = a.Seconds + b.Seconds,
        }))
        .OrderBy(k => Order(k.Kernel))
        .ToArray();

    private static int Order(string kernel)
    {
        for (int i = 0; i < KernelCatalog.All.Count; i++)
        {
            if (KernelCatalog.All[i].Name == kernel)
            {
                return i;
            }
        }

        return int.MaxValue;
    }
}
