using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// A planned attention (<see cref="LaunchShapes.Attention"/>): its launch and tiling (heads per group, key splits,
/// staged tiles) and, when the window is split, the combine launch and the partial states it needs. Run by
/// <see cref="AttentionLauncher{TRing}"/>.
/// </summary>
/// <param name="Config">Launch of the attention kernel, with the shared memory its tiles take.</param>
/// <param name="Tiling">Its tiling.</param>
/// <param name="CombineConfig">Launch of the split combine (used only when <see cref="IsSplit"/>).</param>
/// <param name="Partials">(row, head, split) partial states (0 when not split).</param>
/// <param name="GroupsPerMultiprocessor">Occupancy of the attention kernel at its shared memory: resident groups per multiprocessor (<see cref="IOccupancy"/>).</param>
internal readonly record struct AttentionLaunch(
    KernelConfig Config, AttentionTiling Tiling, KernelConfig CombineConfig, long Partials, int GroupsPerMultiprocessor)
{
    /// <summary>Whether each window is split across groups (then a combine launch follows).</summary>
    public bool IsSplit => Tiling.Splits > 1;
}
