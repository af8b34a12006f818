using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// Launch shapes chosen on the host for one device: group size, grid size for grid-stride loops, tile widths and the
/// dynamic shared memory each kernel asks for. Computed from a <see cref="DeviceDescription"/> only, so a live
/// accelerator (<see cref="DeviceDescription.Of"/>) and a described one (<see cref="DeviceDescription.H100Sxm"/>) take
/// the same code. Kernels read group and warp size at run time.
/// </summary>
internal sealed class LaunchShapes
{
    private readonly bool cpu;

    /// <summary>The shapes for <paramref name="device"/>, with the overrides of <paramref name="tuning"/> (if any).</summary>
    /// <param name="device">The device the kernels run on (or would run on).</param>
    /// <param name="tuning">Overrides fixed when the engine is created; null for the device's defaults.</param>
    public LaunchShapes(DeviceDescription device, LaunchTuning? tuning = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        Device = device;
        int max = device.MaxGroupSize;
        cpu = device.IsCpu;

        // GPUs: 128 threads (4 warps) balances occupancy and shared memory; CPU: the whole simulated group.
        GroupSize = cpu ? max : Math.Min(max, Math.Max(device.WarpSize, 128));
        int perMp = Math.Max(1, device.MaxThreadsPerMultiprocessor / GroupSize);
        MaxResidentGroups = Math.Max(1, device.Multiprocessors * perMp);
        MaxSharedBytes = device.SharedMemoryPerGroup;
        // GPUs stage each tile's keys and values in shared memory (tile x dh floats); the CPU accelerator reads them
        // in place, where the copy and the extra barrier cost more than they save.
        StageAttentionTiles = tuning?.StageAttentionTiles ?? !cpu;
        TileKeys = cpu ? Math.Max(GroupSize, 16) : 32;
        AttentionTargetGroups = tuning?.AttentionTargetGroups ?? (cpu ? 1 : MaxResidentGroups);
        ProjectionTargetGroups = tuning?.ProjectionTargetGroups ?? (cpu ? 1 : MaxResidentGroups);
        MinKeysPerSplit = tuning?.MinKeysPerSplit ?? 16;
        MinSliceWidth = tuning?.MinSliceWidth ?? 64;
    }

    /// <summary>The device these shapes are for.</summary>
    public DeviceDescription Device { get; }

    /// <summary>Groups resident on the whole device at once: multiprocessors x (threads per multiprocessor / <see cref="GroupSize"/>).</summary>
    public int MaxResidentGroups { get; }

    /// <summary>Shared memory a group may use, in bytes.</summary>
    public int MaxSharedBytes { get; }

    /// <summary>
    /// Groups the attention launch should have to fill the device; when rows x kv-heads fall short (decode), each
    /// window is split across groups. 1 on the CPU accelerator (no split); <see cref="LaunchTuning"/> overrides it.
    /// </summary>
    public int AttentionTargetGroups { get; }

    /// <summary>
    /// Groups a projection launch should have to fill the device; below it (decode) the input width is split across
    /// groups (split-K). 1 on the CPU accelerator (no split); <see cref="LaunchTuning"/> overrides it.
    /// </summary>
    public int ProjectionTargetGroups { get; }

    /// <summary>Narrowest input slice a split-K group may take.</summary>
    public int MinSliceWidth { get; }

    /// <summary>Fewest keys a split may hold.</summary>
    public int MinKeysPerSplit { get; }

    /// <summary>Threads per group for every kernel.</summary>
    public int GroupSize { get; }

    /// <summary>Whether attention stages key and value tiles in shared memory (GPUs; <see cref="LaunchTuning"/> overrides it).</summary>
    public bool StageAttentionTiles { get; }

    /// <summary>Keys per attention tile.</summary>
    public int TileKeys { get; }

    /// <summary>Grid for a grid-stride loop over <paramref name="groupItems"/> group-sized work items.</summary>
    public KernelConfig Groups(long groupItems, int sharedFloats = 0)
    {
        int grid = (int)Math.Clamp(groupItems, 1, MaxResidentGroups * 4L);
        return sharedFloats > 0
            ? new KernelConfig(grid, GroupSize, SharedMemoryConfig.RequestDynamic<float>(sharedFloats))
            : new KernelConfig(grid, GroupSize);
    }

    /// <summary>Grid for a grid-stride loop over <paramref name="groupItems"/> group-sized work items with <paramref name="sharedDoubles"/> doubles of dynamic shared memory.</summary>
    public KernelConfig GroupsWithDoubles(long groupItems, int sharedDoubles)
    {
        var config = Groups(groupItems);
        return new KernelConfig(config.GridDim, config.GroupDim, SharedMemoryConfig.RequestDynamic<double>(sharedDoubles));
    }

    /// <summary>Grid for a grid-stride loop over <paramref name="elements"/> independent elements.</summary>
    public KernelConfig Elements(long elements) => Groups((elements + GroupSize - 1) / GroupSize);

    /// <summary>
    /// Launch and tiling of a projection of <paramref name="rows"/> rows, <paramref name="inner"/> inputs and
    /// <paramref name="outer"/> outputs. The CPU accelerator stages whole input rows once per tile and gives each
    /// thread many columns (barriers are expensive there); GPUs keep one column per thread and stream the inputs
    /// through shared memory in chunks unless whole rows fit in a modest budget.
    /// </summary>
    /// <remarks><paramref name="tiling"/> overrides the choice (tests use it to run both code paths everywhere).</remarks>
    public ProjectionLaunch Projection(int rows, int inner, int outer, ProjectionTiling? tiling = null)
    {
        int budgetFloats = (cpu ? 1 << 20 : Math.Min(MaxSharedBytes, 32 * 1024)) / sizeof(float);
        bool staged = Kernels.Projection.TileRows * inner <= budgetFloats;
        var chosen = tiling ?? new ProjectionTiling
        {
            ChunkK = staged ? inner : Math.Min(inner, 512),
            ColumnsPerThread = staged && cpu ? Math.Max(1, 64 / GroupSize) : 1,
            KSlices = 1,
        };
        int rowTiles = (rows + Kernels.Projection.TileRows - 1) / Kernels.Projection.TileRows;
        if (tiling is null && rowTiles * (long)((outer + GroupSize - 1) / GroupSize) < ProjectionTargetGroups)
        {
            // Decode: too few tiles to fill the device, so split the input width across groups as well.
            long tiles = rowTiles * (long)((outer + GroupSize - 1) / GroupSize);
            int slices = (int)Math.Clamp((ProjectionTargetGroups + tiles - 1) / tiles, 1, Math.Max(1, inner / MinSliceWidth));
            if (slices > 1)
            {
                int sliceLength = (inner + slices - 1) / slices;
                chosen = new ProjectionTiling { ChunkK = Math.Min(sliceLength, 512), ColumnsPerThread = 1, KSlices = slices };
            }
        }

        if (chosen.KSlices < 1 || chosen.ColumnsPerThread < 1 || chosen.ChunkK < 1)
        {
            throw new ArgumentException("Projection tiling values must be >= 1.", nameof(tiling));
        }

        if (chosen.ChunkK < inner && chosen.ColumnsPerThread != 1)
        {
            throw new ArgumentException("A chunked projection tiling needs one column per thread.", nameof(tiling));
        }

        if (chosen.KSlices > 1 && chosen.ChunkK >= inner)
        {
            throw new ArgumentException("Split-K needs chunked staging (ChunkK below the input width).", nameof(tiling));
        }

        int tileCols = GroupSize * chosen.ColumnsPerThread;
        long items = (long)rowTiles * ((outer + tileCols - 1) / tileCols) * chosen.KSlices;
        return new ProjectionLaunch(
            Groups(items, chosen.SharedFloats), chosen, Elements((long)rows * outer), chosen.KSlices > 1 ? (long)chosen.KSlices * rows * outer : 0);
    }

    /// <summary>
    /// Launch and tiling of attention over <paramref name="rows"/> rows of <paramref name="heads"/> query heads sharing
    /// <paramref name="kvHeads"/> kv-heads of width <paramref name="headDim"/>, windows of up to
    /// <paramref name="maxKeys"/> keys: one group per (row, kv-head, chunk of <paramref name="headsPerGroup"/> heads),
    /// each window split (<see cref="AttentionSplits"/>) when those groups fall short of the device.
    /// </summary>
    /// <remarks><paramref name="splits"/> and <paramref name="stageTiles"/> override the choice (tests use them to run every code path everywhere).</remarks>
    public AttentionLaunch Attention(
        int rows, int heads, int kvHeads, int headDim, int headsPerGroup, int maxKeys, int? splits = null, bool? stageTiles = null)
    {
        int headChunks = (heads / kvHeads + headsPerGroup - 1) / headsPerGroup;
        long items = (long)rows * kvHeads * headChunks;
        var tiling = new AttentionTiling
        {
            TileKeys = TileKeys,
            StageTiles = stageTiles ?? StageAttentionTiles ? 1 : 0,
            HeadsPerGroup = headsPerGroup,
            Splits = splits ?? AttentionSplits(items, maxKeys),
        };
        return new AttentionLaunch(
            Groups(items * tiling.Splits, tiling.SharedFloats(headDim)),
            tiling,
            Elements((long)rows * heads * headDim),
            tiling.Splits > 1 ? (long)rows * heads * tiling.Splits : 0);
    }

    /// <summary>Key splits per (row, head) for an attention launch over <paramref name="items"/> groups and windows of up to <paramref name="maxKeys"/> keys.</summary>
    public int AttentionSplits(long items, int maxKeys)
    {
        if (items >= AttentionTargetGroups)
        {
            return 1;
        }

        long wanted = (AttentionTargetGroups + items - 1) / items;
        long possible = Math.Max(1, maxKeys / MinKeysPerSplit);
        return (int)Math.Clamp(Math.Min(wanted, possible), 1, 4096);
    }

    /// <summary>Query heads per attention group so that the group's shared memory fits the device.</summary>
    public int AttentionHeadsPerGroup(int headsPerKv, int headDim)
    {
        int heads = headsPerKv;
        while (heads > 1 && NearFieldAttention.SharedFloats(heads, headDim, TileKeys, StageAttentionTiles) * sizeof(float) > MaxSharedBytes)
        {
            heads = (heads + 1) / 2;
        }

        if (NearFieldAttention.SharedFloats(heads, headDim, TileKeys, StageAttentionTiles) * sizeof(float) > MaxSharedBytes)
        {
            throw new NotSupportedException(
                $"headDim {headDim} needs more shared memory per group than this device offers ({MaxSharedBytes} bytes).");
        }

        return heads;
    }
}
