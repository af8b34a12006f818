using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// Launch shapes chosen on the host for one device: group size, grid size for grid-stride loops, tile widths and the
/// dynamic shared memory each kernel asks for. Computed from a <see cref="DeviceDescription"/> and an occupancy
/// estimate (<see cref="IOccupancy"/>: the description's limits, or ILGPU's estimate of a live GPU's compiled kernels)
/// only, so a live accelerator (<see cref="DeviceDescription.Of"/>) and a described one
/// (<see cref="DeviceDescription.H100Sxm"/>) take the same code. Grids and splits are sized to the groups each kernel
/// can keep resident: multiprocessors x its occupancy at the shared memory it asks for. Kernels read group and warp
/// size at run time.
/// </summary>
internal sealed class LaunchShapes
{
    private readonly bool cpu;
    private readonly IOccupancy occupancy;
    private readonly LaunchTuning? tuning;

    /// <summary>The shapes for <paramref name="device"/>, with the overrides of <paramref name="tuning"/> (if any).</summary>
    /// <param name="device">The device the kernels run on (or would run on).</param>
    /// <param name="tuning">Overrides fixed when the engine is created; null for the device's defaults.</param>
    /// <param name="occupancy">The kernels' occupancy on the device; null for the limits <paramref name="device"/> states.</param>
    public LaunchShapes(DeviceDescription device, LaunchTuning? tuning = null, IOccupancy? occupancy = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        Device = device;
        this.occupancy = occupancy ?? device;
        this.tuning = tuning;
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
        // GPUs: decode takes the split-KV kernel; the CPU accelerator runs each of its per-key warp shuffles as four
        // barriers of the warp's threads, far slower there than near-field attention's few barriers a tile.
        SplitKvDecode = tuning?.SplitKvDecode ?? !cpu;
        TileKeys = cpu ? Math.Max(GroupSize, 16) : 32;
        AttentionTargetGroups = tuning?.AttentionTargetGroups ?? (cpu ? 1 : null);
        ProjectionTargetGroups = tuning?.ProjectionTargetGroups ?? (cpu ? 1 : null);
        MinKeysPerSplit = tuning?.MinKeysPerSplit ?? 16;
        MinSliceWidth = tuning?.MinSliceWidth ?? 64;
    }

    /// <summary>
    /// These shapes for a layer whose weights are stored as <paramref name="weights"/> and ring as
    /// <paramref name="ring"/>: the same, with occupancy asked of the layer's kernel variants (<see cref="StoredOccupancy"/>).
    /// </summary>
    /// <param name="weights">The layer's weight storage type.</param>
    /// <param name="ring">The layer's ring storage type.</param>
    public LaunchShapes ForStorage(SomaStorageType weights, SomaStorageType ring) =>
        weights == SomaStorageType.Float32 && ring == SomaStorageType.Float32
            ? this
            : new LaunchShapes(Device, tuning, new StoredOccupancy(occupancy, weights, ring));

    /// <summary>The device these shapes are for.</summary>
    public DeviceDescription Device { get; }

    /// <summary>Groups resident on the whole device at once: multiprocessors x (threads per multiprocessor / <see cref="GroupSize"/>).</summary>
    public int MaxResidentGroups { get; }

    /// <summary>Shared memory a group may use, in bytes.</summary>
    public int MaxSharedBytes { get; }

    /// <summary>
    /// Groups the attention launch should have to fill the device; when rows x kv-heads fall short (decode), each
    /// window is split across groups. Null on GPUs: the groups the attention kernel keeps resident at its shared
    /// memory (<see cref="ResidentGroups"/>); 1 on the CPU accelerator (no split); <see cref="LaunchTuning"/> overrides it.
    /// </summary>
    public int? AttentionTargetGroups { get; }

    /// <summary>
    /// Groups a projection launch should have to fill the device; below it (decode) the input width is split across
    /// groups (split-K). Null on GPUs: the groups the projection keeps resident at its tile's shared memory; 1 on the
    /// CPU accelerator (no split); <see cref="LaunchTuning"/> overrides it.
    /// </summary>
    public int? ProjectionTargetGroups { get; }

    /// <summary>
    /// Most rows a GPU pass may have for its projections to cover them all in one block of row tiles and read every
    /// weight once (<see cref="BatchRowTiles"/>): 128 (16 row tiles; at 128 threads 8 columns a group, 37 KB of shared memory).
    /// </summary>
    public const int MaxBatchRows = 128;

    /// <summary>Narrowest input slice a split-K group may take.</summary>
    public int MinSliceWidth { get; }

    /// <summary>Fewest keys a split may hold.</summary>
    public int MinKeysPerSplit { get; }

    /// <summary>Threads per group for every kernel.</summary>
    public int GroupSize { get; }

    /// <summary>Whether attention stages key and value tiles in shared memory (GPUs; <see cref="LaunchTuning"/> overrides it).</summary>
    public bool StageAttentionTiles { get; }

    /// <summary>Whether decode passes take the split-KV decode attention where it applies (GPUs; <see cref="LaunchTuning"/> overrides it).</summary>
    public bool SplitKvDecode { get; }

    /// <summary>Keys per attention tile.</summary>
    public int TileKeys { get; }

    /// <summary>
    /// Groups of <paramref name="kernel"/> resident on the whole device at once with <paramref name="sharedBytes"/> of
    /// dynamic shared memory per group: multiprocessors x its occupancy (at least one group per multiprocessor).
    /// </summary>
    /// <param name="kernel">The kernel's name in <see cref="KernelCatalog.All"/>.</param>
    /// <param name="sharedBytes">Dynamic shared memory per group, in bytes.</param>
    public int ResidentGroups(string kernel, int sharedBytes) =>
        Device.Multiprocessors * Math.Max(1, occupancy.GroupsPerMultiprocessor(kernel, GroupSize, sharedBytes));

    /// <summary>Grid for a grid-stride loop of <paramref name="kernel"/> over <paramref name="groupItems"/> group-sized work items: at most four waves of its resident groups.</summary>
    public KernelConfig Groups(string kernel, long groupItems, int sharedFloats = 0)
    {
        int grid = (int)Math.Clamp(groupItems, 1, ResidentGroups(kernel, sharedFloats * sizeof(float)) * 4L);
        return sharedFloats > 0
            ? new KernelConfig(grid, GroupSize, SharedMemoryConfig.RequestDynamic<float>(sharedFloats))
            : new KernelConfig(grid, GroupSize);
    }

    /// <summary>Grid for a grid-stride loop of <paramref name="kernel"/> over <paramref name="groupItems"/> group-sized work items with <paramref name="sharedDoubles"/> doubles of dynamic shared memory.</summary>
    public KernelConfig GroupsWithDoubles(string kernel, long groupItems, int sharedDoubles)
    {
        int grid = (int)Math.Clamp(groupItems, 1, ResidentGroups(kernel, sharedDoubles * sizeof(double)) * 4L);
        return new KernelConfig(grid, GroupSize, SharedMemoryConfig.RequestDynamic<double>(sharedDoubles));
    }

    /// <summary>Grid for a grid-stride loop of <paramref name="kernel"/> over <paramref name="elements"/> independent elements.</summary>
    public KernelConfig Elements(string kernel, long elements) => Groups(kernel, (elements + GroupSize - 1) / GroupSize);

    /// <summary>
    /// Launch and tiling of projection <paramref name="kernel"/> ("qkv" or "linear"; its split-K reduce is
    /// <paramref name="kernel"/>-reduce) of <paramref name="rows"/> rows, <paramref name="inner"/> inputs and
    /// <paramref name="outer"/> outputs. The CPU accelerator stages whole input rows once per tile and gives each
    /// thread many columns (barriers are expensive there), each thread reading its own weight rows; GPUs keep one
    /// column per thread and stream the inputs and the tile's weight rows through shared memory in chunks of K
    /// (<see cref="GpuChunk"/>: coalesced weight reads along K).
    /// </summary>
    /// <remarks>
    /// A decode pass on a GPU (at most <see cref="Gemv.MaxRows"/> rows) takes the GEMV instead of the tile loop
    /// (<see cref="GemvProjection"/>). <paramref name="tiling"/> overrides the choice (tests use it to run every code
    /// path everywhere).
    /// </remarks>
    public ProjectionLaunch Projection(string kernel, int rows, int inner, int outer, ProjectionTiling? tiling = null)
    {
        bool gemv = tiling is { } forced ? forced.Gemv != 0 : !cpu && rows <= Gemv.MaxRows;
        if (gemv)
        {
            return GemvProjection(kernel, rows, outer, tiling);
        }

        bool staged = cpu && Kernels.Projection.TileRows * inner <= (1 << 20) / sizeof(float);
        int batchTiles = BatchRowTiles(rows);
        var chosen = tiling ?? (staged
            ? new ProjectionTiling { ChunkK = inner, ColumnsPerThread = Math.Max(1, 64 / GroupSize), KSlices = 1 }
            : Chunked(inner, 1, batchTiles));
        int sets = Math.Max(1, chosen.RowTiles);
        if (chosen.RowTiles < 0 || GroupSize % sets != 0)
        {
            throw new ArgumentException($"Projection RowTiles ({chosen.RowTiles}) must be >= 0 and divide the group size ({GroupSize}).", nameof(tiling));
        }

        int rowBlocks = (rows + chosen.BlockRows - 1) / chosen.BlockRows;
        int lanes = GroupSize / sets;
        long tiles = rowBlocks * (long)((outer + lanes - 1) / lanes);
        long target = ProjectionTargetGroups ?? ResidentGroups(kernel, chosen.SharedFloats(GroupSize) * sizeof(float));
        for (int round = 0; tiling is null && round < 2 && tiles < target; round++)
        {
            // Decode: too few tiles to fill the device, so split the input width across groups as well. The target
            // is what the kernel keeps resident at its tile's shared memory; a split tile is smaller, so the target is
            // taken again at the split tile once (a second round when it changed).
            int slices = (int)Math.Clamp((target + tiles - 1) / tiles, 1, Math.Max(1, inner / MinSliceWidth));
            if (slices <= 1)
            {
                break;
            }

            int sliceLength = (inner + slices - 1) / slices;
            chosen = Chunked(sliceLength, slices, batchTiles);
            long resident = ProjectionTargetGroups ?? ResidentGroups(kernel, chosen.SharedFloats(GroupSize) * sizeof(float));
            if (resident == target)
            {
                break;
            }

            target = resident;
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

        int tileCols = lanes * chosen.ColumnsPerThread;
        long items = (long)rowBlocks * ((outer + tileCols - 1) / tileCols) * chosen.KSlices;
        return new ProjectionLaunch(
            Groups(kernel, items, chosen.SharedFloats(GroupSize)),
            chosen,
            Elements(kernel + "-reduce", (long)rows * outer),
            chosen.KSlices > 1 ? (long)chosen.KSlices * rows * outer : 0,
            occupancy.GroupsPerMultiprocessor(kernel, GroupSize, chosen.SharedFloats(GroupSize) * sizeof(float)));
    }

    /// <summary>
    /// Input elements per chunk of a GPU's tile loop: the widest of 64, 32, 16 and 8 whose staged rows and weight
    /// tiles (8 x C + 2 x group x (C + 1) floats) fit in 48 KB of the group's shared memory (C = 32 at 128 threads).
    /// </summary>
    public int GpuChunk => GpuChunkOf(1);

    /// <summary>
    /// Row tiles a GPU's projection group covers at once for a pass of <paramref name="rows"/> rows (<see cref="ProjectionTiling.RowTiles"/>):
    /// a batched decode pass of more than <see cref="Gemv.MaxRows"/> and at most <see cref="MaxBatchRows"/> rows gets
    /// the smallest power of two of tiles that holds all its rows (each weight read once per pass; at most the group
    /// size: a set keeps at least one thread); otherwise, and on the CPU accelerator (where the weights stay in cache
    /// and the tile loop is fastest as it is), 0: one tile.
    /// </summary>
    /// <param name="rows">The pass's rows.</param>
    public int BatchRowTiles(int rows)
    {
        if (cpu || rows <= Gemv.MaxRows || rows > MaxBatchRows)
        {
            return 0;
        }

        int tiles = 1;
        while (tiles * Kernels.Projection.TileRows < rows && tiles < GroupSize)
        {
            tiles *= 2;
        }

        return tiles > 1 ? tiles : 0;
    }

    /// <summary>
    /// The widest chunk of K (64, 32, 16 or 8) whose staged rows and weight tiles (8 x R x C + 2 x (group / R) x (C + 1)
    /// floats for <paramref name="rowTiles"/> = R) fit in 48 KB of a GPU group's shared memory.
    /// </summary>
    private int GpuChunkOf(int rowTiles)
    {
        int sets = Math.Max(1, rowTiles);
        int budget = Math.Min(MaxSharedBytes, 48 * 1024) / sizeof(float);
        int chunk = 64;
        while (chunk > 8 && Kernels.Projection.TileRows * sets * chunk + 2 * (GroupSize / sets) * (chunk + 1) > budget)
        {
            chunk /= 2;
        }

        return chunk;
    }

    /// <summary>
    /// A chunked tiling over <paramref name="width"/> inputs in <paramref name="slices"/> slices covering
    /// <paramref name="rowTiles"/> row tiles a group: the CPU's 512-wide chunks, or a GPU's chunk
    /// (<see cref="GpuChunkOf"/>) with staged weights.
    /// </summary>
    private ProjectionTiling Chunked(int width, int slices, int rowTiles)
    {
        int chunk = Math.Min(width, cpu ? 512 : GpuChunkOf(rowTiles));
        return new ProjectionTiling
        {
            ChunkK = chunk, ColumnsPerThread = 1, KSlices = slices, StageWeights = !cpu && (chunk < width || slices > 1 || rowTiles > 1) ? 1 : 0,
            RowTiles = rowTiles,
        };
    }

    /// <summary>
    /// The decode GEMV of projection <paramref name="kernel"/> (its <paramref name="kernel"/>-gemv): one warp per output
    /// column, as many warps as columns up to four waves of the groups the GEMV keeps resident; never split (no
    /// partial sums, no reduce launch).
    /// </summary>
    private ProjectionLaunch GemvProjection(string kernel, int rows, int outer, ProjectionTiling? tiling)
    {
        string gemv = kernel + "-gemv";
        if (rows > Gemv.MaxRows || tiling is { KSlices: not 1 } or { ColumnsPerThread: > 1 })
        {
            throw new ArgumentException(
                $"The GEMV serves at most {Gemv.MaxRows} rows ({rows}) with KSlices 1 and one column per warp.", nameof(tiling));
        }

        int warpsPerGroup = Math.Max(1, GroupSize / Device.WarpSize);
        var chosen = new ProjectionTiling { ChunkK = 1, ColumnsPerThread = 1, KSlices = 1, Gemv = 1 };
        return new ProjectionLaunch(
            Groups(gemv, ((long)outer + warpsPerGroup - 1) / warpsPerGroup),
            chosen,
            default,
            0,
            occupancy.GroupsPerMultiprocessor(gemv, GroupSize, 0));
    }

    /// <summary>
    /// Launch and tiling of attention over <paramref name="rows"/> rows of <paramref name="heads"/> query heads sharing
    /// <paramref name="kvHeads"/> kv-heads of width <paramref name="headDim"/>, windows of up to
    /// <paramref name="maxKeys"/> keys: one group per (row, kv-head, chunk of <paramref name="headsPerGroup"/> heads),
    /// each window split when those groups fall short of the groups the kernel keeps resident at its shared memory.
    /// </summary>
    /// <remarks>
    /// A <paramref name="decode"/> pass (each row attends to its own session's keys only: one row per segment) takes
    /// the split-KV decode kernel (<see cref="DecodeAttention"/>) where it applies and <see cref="SplitKvDecode"/>. <paramref name="splits"/>,
    /// <paramref name="stageTiles"/> and <paramref name="splitKv"/> override the choice (tests use them to run every
    /// code path everywhere).
    /// </remarks>
    public AttentionLaunch Attention(
        int rows, int heads, int kvHeads, int headDim, int headsPerGroup, int maxKeys, int? splits = null, bool? stageTiles = null,
        bool decode = false, bool? splitKv = null)
    {
        if (splitKv ?? (decode && SplitKvDecode && DecodeAttentionApplies(heads / kvHeads, headDim)))
        {
            return DecodeAttention(rows, heads, kvHeads, headDim, maxKeys, splits);
        }

        int headChunks = (heads / kvHeads + headsPerGroup - 1) / headsPerGroup;
        long items = (long)rows * kvHeads * headChunks;
        var tiling = new AttentionTiling
        {
            TileKeys = TileKeys,
            StageTiles = stageTiles ?? StageAttentionTiles ? 1 : 0,
            HeadsPerGroup = headsPerGroup,
        };
        int sharedBytes = tiling.SharedFloats(headDim) * sizeof(float);
        tiling.Splits = splits ?? AttentionSplits(items, maxKeys, AttentionTargetGroups ?? ResidentGroups("attention", sharedBytes));
        return new AttentionLaunch(
            Groups("attention", items * tiling.Splits, tiling.SharedFloats(headDim)),
            tiling,
            Elements("attention-combine", (long)rows * heads * headDim),
            tiling.Splits > 1 ? (long)rows * heads * tiling.Splits : 0,
            occupancy.GroupsPerMultiprocessor("attention", GroupSize, sharedBytes));
    }

    /// <summary>
    /// Whether the split-KV decode kernel serves a kv-head of <paramref name="headsPerKv"/> query heads of width
    /// <paramref name="headDim"/> here: dh a multiple of 4 (quad loads), a power-of-two warp size (butterfly shuffles)
    /// and all the heads' state in the group's shared memory. Otherwise decode takes <see cref="NearFieldAttention"/>.
    /// </summary>
    /// <param name="headsPerKv">Query heads per kv-head.</param>
    /// <param name="headDim">Head dimension dh.</param>
    public bool DecodeAttentionApplies(int headsPerKv, int headDim) =>
        headDim % 4 == 0 && (Device.WarpSize & (Device.WarpSize - 1)) == 0
        && DecodeSharedFloats(headsPerKv, headDim) * sizeof(float) <= MaxSharedBytes;

    /// <summary>Dynamic shared memory (floats) of a split-KV decode group at these shapes.</summary>
    private int DecodeSharedFloats(int headsPerKv, int headDim) =>
        SplitKvDecodeAttention.SharedFloats(headsPerKv, headDim, TileKeys, Math.Max(1, GroupSize / Device.WarpSize));

    /// <summary>
    /// The split-KV decode launch: one group per (row, kv-head, split) serving all H / Hkv heads, the window split so
    /// that kv-heads x rows x splits reach two groups per multiprocessor (<see cref="AttentionTargetGroups"/>
    /// overrides it), each split holding at least <see cref="MinKeysPerSplit"/> keys, so short windows stay whole.
    /// </summary>
    private AttentionLaunch DecodeAttention(int rows, int heads, int kvHeads, int headDim, int maxKeys, int? splits)
    {
        int perKv = heads / kvHeads;
        if (!DecodeAttentionApplies(perKv, headDim) || splits is < 1)
        {
            throw new ArgumentException(
                $"The split-KV decode attention needs dh % 4 == 0 ({headDim}), a power-of-two warp ({Device.WarpSize}), its shared memory to fit and splits >= 1.",
                nameof(splits));
        }

        long items = (long)rows * kvHeads;
        var tiling = new AttentionTiling { TileKeys = TileKeys, StageTiles = 0, HeadsPerGroup = perKv };
        int sharedFloats = DecodeSharedFloats(perKv, headDim);
        tiling.Splits = splits ?? AttentionSplits(items, maxKeys, AttentionTargetGroups ?? 2L * Device.Multiprocessors);
        return new AttentionLaunch(
            Groups("attention-decode", items * tiling.Splits, sharedFloats),
            tiling,
            Elements("attention-combine", (long)rows * heads * headDim),
            tiling.Splits > 1 ? (long)rows * heads * tiling.Splits : 0,
            occupancy.GroupsPerMultiprocessor("attention-decode", GroupSize, sharedFloats * sizeof(float)),
            SplitKv: true);
    }

    /// <summary>Key splits per (row, head) for an attention launch over <paramref name="items"/> groups and windows of up to <paramref name="maxKeys"/> keys, to reach <paramref name="target"/> groups.</summary>
    private int AttentionSplits(long items, int maxKeys, long target)
    {
        if (items >= target)
        {
            return 1;
        }

        long wanted = (target + items - 1) / items;
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
