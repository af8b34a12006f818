namespace Soma;

/// <summary>
/// How a <see cref="SomaEngine"/> picks its accelerator. The CPU device shape matters: ILGPU's CPU accelerator runs
/// each simulated GPU thread as an OS thread, so small explicit groups (the default: 2 threads a warp, 1 warp a
/// group, 1 multiprocessor) run far faster than the default CPU device.
/// </summary>
public sealed record SomaEngineOptions
{
    /// <summary>Creates and validates engine options.</summary>
    /// <param name="accelerator">Which accelerator to open.</param>
    /// <param name="deviceIndex">Which device of that kind, counted from 0 in <see cref="SomaEngine.ListDevices"/> order.</param>
    /// <param name="cpuThreadsPerWarp">CPU accelerator: simulated threads per warp, a power of two in [2, 64].</param>
    /// <param name="cpuWarpsPerGroup">CPU accelerator: warps per group, in [1, 32].</param>
    /// <param name="cpuMultiprocessors">CPU accelerator: simulated multiprocessors, in [1, 256].</param>
    public SomaEngineOptions(
        SomaAcceleratorKind accelerator = SomaAcceleratorKind.Auto,
        int deviceIndex = 0,
        int cpuThreadsPerWarp = 2,
        int cpuWarpsPerGroup = 1,
        int cpuMultiprocessors = 1)
    {
        if (!Enum.IsDefined(accelerator))
        {
            throw new ArgumentOutOfRangeException(nameof(accelerator), accelerator, "Unknown accelerator kind.");
        }

        if (deviceIndex < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(deviceIndex), deviceIndex, "deviceIndex must be >= 0.");
        }

        if (cpuThreadsPerWarp < 2 || cpuThreadsPerWarp > 64 || (cpuThreadsPerWarp & (cpuThreadsPerWarp - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(cpuThreadsPerWarp), cpuThreadsPerWarp, "cpuThreadsPerWarp must be a power of two in [2, 64].");
        }

        if (cpuWarpsPerGroup < 1 || cpuWarpsPerGroup > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(cpuWarpsPerGroup), cpuWarpsPerGroup, "cpuWarpsPerGroup must lie in [1, 32].");
        }

        if (cpuMultiprocessors < 1 || cpuMultiprocessors > 256)
        {
            throw new ArgumentOutOfRangeException(
                nameof(cpuMultiprocessors), cpuMultiprocessors, "cpuMultiprocessors must lie in [1, 256].");
        }

        Accelerator = accelerator;
        DeviceIndex = deviceIndex;
        CpuThreadsPerWarp = cpuThreadsPerWarp;
        CpuWarpsPerGroup = cpuWarpsPerGroup;
        CpuMultiprocessors = cpuMultiprocessors;
    }

    /// <summary>Which accelerator to open.</summary>
    public SomaAcceleratorKind Accelerator { get; }

    /// <summary>Which device of that kind.</summary>
    public int DeviceIndex { get; }

    /// <summary>CPU accelerator: simulated threads per warp.</summary>
    public int CpuThreadsPerWarp { get; }

    /// <summary>CPU accelerator: warps per group.</summary>
    public int CpuWarpsPerGroup { get; }

    /// <summary>CPU accelerator: simulated multiprocessors.</summary>
    public int CpuMultiprocessors { get; }

    /// <summary>
    /// Parses an accelerator name: auto, cpu, cuda or opencl (case-insensitive). Throws
    /// <see cref="ArgumentException"/> naming the accepted values otherwise.
    /// </summary>
    public static SomaAcceleratorKind ParseKind(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant() switch
        {
            "auto" or "" => SomaAcceleratorKind.Auto,
            "cpu" => SomaAcceleratorKind.Cpu,
            "cuda" => SomaAcceleratorKind.Cuda,
            "opencl" or "cl" => SomaAcceleratorKind.OpenCL,
            _ => throw new ArgumentException($"Unknown accelerator '{name}'; expected auto, cpu, cuda or opencl.", nameof(name)),
        };
    }
}
