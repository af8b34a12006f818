using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// ILGPU's occupancy estimate of the engine's compiled kernels on a live GPU
/// (<see cref="Accelerator.EstimateMaxActiveGroupsPerMultiprocessor(Kernel, int, int)"/>: the CUDA driver's
/// calculator, which counts each kernel's registers too). Where the accelerator cannot estimate (OpenCL with dynamic
/// shared memory) the device description's limits answer.
/// </summary>
internal sealed class LiveOccupancy : IOccupancy
{
    private readonly Accelerator accelerator;
    private readonly KernelSet kernels;
    private readonly IOccupancy fallback;

    /// <summary>The estimate for <paramref name="kernels"/> on <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The accelerator the kernels are loaded on.</param>
    /// <param name="kernels">The engine's kernels.</param>
    /// <param name="fallback">What answers where the accelerator has no estimate (the device's description).</param>
    public LiveOccupancy(Accelerator accelerator, KernelSet kernels, IOccupancy fallback)
    {
        this.accelerator = accelerator;
        this.kernels = kernels;
        this.fallback = fallback;
    }

    /// <inheritdoc/>
    public int GroupsPerMultiprocessor(string kernel, int groupSize, int sharedBytes)
    {
        try
        {
            return accelerator.EstimateMaxActiveGroupsPerMultiprocessor(kernels.Compiled(kernel), groupSize, sharedBytes);
        }
        catch (Exception e) when (e is NotSupportedException or ArgumentOutOfRangeException)
        {
            return fallback.GroupsPerMultiprocessor(kernel, groupSize, sharedBytes);
        }
    }
}
