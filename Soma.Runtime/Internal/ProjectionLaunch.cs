using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// A planned projection (<see cref="LaunchShapes.Projection"/>): the tile loop's launch and tiling, and, when the
/// tiling splits K, the reduce launch and the partial sums it needs. Run by <see cref="ProjectionLauncher{TWeights, TEpilogue}"/>.
/// </summary>
/// <param name="Config">Launch of the tile loop (grid, group, dynamic shared memory).</param>
/// <param name="Tiling">Its tiling.</param>
/// <param name="ReduceConfig">Launch of the split-K reduce (used only when <see cref="IsSplit"/>).</param>
/// <param name="PartialFloats">Floats of split-K partial sums (0 when not split).</param>
/// <param name="GroupsPerMultiprocessor">Occupancy of the tile loop at its shared memory: resident groups per multiprocessor (<see cref="IOccupancy"/>).</param>
internal readonly record struct ProjectionLaunch(
    KernelConfig Config, ProjectionTiling Tiling, KernelConfig ReduceConfig, long PartialFloats, int GroupsPerMultiprocessor)
{
    /// <summary>Whether the input width is split across groups (then a reduce launch follows).</summary>
    public bool IsSplit => Tiling.KSlices > 1;
}
