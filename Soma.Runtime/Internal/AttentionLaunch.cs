using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// A planned attention (<see cref="LaunchShapes.Attention"/>): its launch and tiling (heads per group, key splits,
/// staged tiles) and, when the window is split, the combine launch and the partial states it needs. Decode passes
/// (<see cref="SplitKv"/>) take <see cref="SplitKvDecodeAttention"/> instead, which merges its splits in the same
/// launch. Run by <see cref="AttentionLauncher{TRing}"/>.
/// </summary>
/// <param name="Config">Launch of the attention kernel, with the shared memory its tiles take.</param>
/// <param name="Tiling">Its tiling.</param>
/// <param name="CombineConfig">Launch of the split combine (used only when <see cref="IsSplit"/>).</param>
/// <param name="Partials">(row, head, split) partial states (0 when not split).</param>
/// <param name="GroupsPerMultiprocessor">Occupancy of the attention kernel at its shared memory: resident groups per multiprocessor (<see cref="IOccupancy"/>).</param>
/// <param name="SplitKv">
/// True: the split-KV decode kernel ("attention-decode", one group per (row, kv-head, split), splits merged in the same
/// launch through a counter per (row, kv-head)); false: <see cref="NearFieldAttention"/> ("attention").
/// </param>
internal readonly record struct AttentionLaunch(
    KernelConfig Config, AttentionTiling Tiling, KernelConfig CombineConfig, long Partials, int GroupsPerMultiprocessor, bool SplitKv = false)
{
    /// <summary>Whether each window is split across groups (partial states; a counter per (row, kv-head) when <see cref="SplitKv"/>).</summary>
    public bool IsSplit => Tiling.Splits > 1;

    /// <summary>Whether a combine launch follows (split, and not <see cref="SplitKv"/>, which merges in its own launch).</summary>
    public bool HasCombine => IsSplit && !SplitKv;

    /// <summary>The kernel's name in <see cref="KernelCatalog.All"/>: "attention-decode" or "attention".</summary>
    public string Kernel => SplitKv ? "attention-decode" : "attention";
}
