namespace Soma.Internal;

/// <summary>
/// How many groups of a kernel fit on one multiprocessor at once, at a group size and dynamic shared memory: ILGPU's
/// own estimate for a live GPU (<see cref="LiveOccupancy"/>, which also counts registers), or the limits a
/// <see cref="DeviceDescription"/> states (threads, groups and shared memory per multiprocessor). Launch planning
/// (<see cref="LaunchShapes"/>) sizes grids and splits from it.
/// </summary>
internal interface IOccupancy
{
    /// <summary>Resident groups per multiprocessor of <paramref name="kernel"/> (0 when one group does not fit).</summary>
    /// <param name="kernel">The kernel's name in <see cref="KernelCatalog.All"/>.</param>
    /// <param name="groupSize">Threads per group.</param>
    /// <param name="sharedBytes">Dynamic shared memory per group, in bytes.</param>
    int GroupsPerMultiprocessor(string kernel, int groupSize, int sharedBytes);
}
