namespace Soma;

/// <summary>What one device offers, as ILGPU reports it.</summary>
/// <param name="Kind">CPU, CUDA or OpenCL.</param>
/// <param name="Index">Index among devices of that kind (what <see cref="SomaEngineOptions.DeviceIndex"/> takes).</param>
/// <param name="Name">Device name.</param>
/// <param name="MemoryBytes">Device memory in bytes.</param>
/// <param name="WarpSize">Threads per warp.</param>
/// <param name="MaxGroupSize">Most threads per group.</param>
/// <param name="Multiprocessors">Multiprocessors (simulated ones on the CPU accelerator).</param>
/// <param name="Usable">Whether Soma can run on it (false for OpenCL devices without generic address space).</param>
/// <param name="Note">Why it is not usable, or extra facts (OpenCL C version).</param>
/// <param name="ProcessorType">What the device is: "CPU" (the CPU accelerator, or an OpenCL CPU runtime such as PoCL) or "GPU".</param>
/// <param name="PeakBandwidth">Peak memory bandwidth in bytes/s from the memory clock and bus width (CUDA only; null elsewhere).</param>
public sealed record SomaDeviceInfo(
    SomaAcceleratorKind Kind,
    int Index,
    string Name,
    long MemoryBytes,
    int WarpSize,
    int MaxGroupSize,
    int Multiprocessors,
    bool Usable,
    string Note,
    string ProcessorType,
    double? PeakBandwidth = null)
{
    /// <summary>True for an OpenCL device that is a CPU (for example PoCL); automatic selection skips those.</summary>
    public bool IsOpenClCpu => Kind == SomaAcceleratorKind.OpenCL && ProcessorType == "CPU";

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Kind.ToString().ToLowerInvariant()}:{Index} {Name} ({(Kind == SomaAcceleratorKind.Cpu ? "host memory" : $"{MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB")}, " +
        $"warp {WarpSize}, group <= {MaxGroupSize}, {Multiprocessors} MPs){(Usable ? "" : " unusable: " + Note)}";
}
