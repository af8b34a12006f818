using ILGPU;
using ILGPU.Runtime;
using Soma.Internal;
using Soma.Kernels;
using Soma.Tests.Infrastructure;

namespace Soma.Tests;

/// <summary>
/// Launch plans from a device description: the built-in H100 and H200 descriptions give the plans the rules of
/// <see cref="LaunchShapes"/> prescribe for the Qwen2.5-7B layer, a live accelerator's description gives the shapes
/// and plans the engine uses, and impossible descriptions are refused.
/// </summary>
public sealed class DeviceDescriptionTests
{
    /// <summary>The attention layer of Qwen2.5-7B with W = 256 (as Soma.Cli's BenchShapes.Qwen7B, 1024-row passes).</summary>
    private static readonly SomaLayerOptions Qwen7B =
        new(modelDim: 3584, heads: 28, kvHeads: 4, headDim: 128, window: 256, includeCurrent: true, ropeTheta: 1000000.0, maxChunkTokens: 1024);

    public static TheoryData<string> Hoppers => new() { nameof(DeviceDescription.H100Sxm), nameof(DeviceDescription.H200) };

    [Theory]
    [MemberData(nameof(Hoppers))]
    public void Decode_OnHopperDescription_HasTheSplitsTheRulesGive(string device)
    {
        var shapes = new LaunchShapes(Hopper(device));
        // 128 threads (4 warps) per group; 2048 / 128 = 16 resident groups per SM x 132 SMs = 2112 groups fill the GPU
        // when shared memory does not limit them. Split targets are not fixed: they follow each kernel's occupancy.
        shapes.GroupSize.Should().Be(128);
        shapes.MaxResidentGroups.Should().Be(2112);
        shapes.AttentionTargetGroups.Should().BeNull();
        shapes.ProjectionTargetGroups.Should().BeNull();
        shapes.TileKeys.Should().Be(32);
        shapes.StageAttentionTiles.Should().BeTrue();

        // A decode step once the ring is full: one row of one session over all 256 ring keys, committing one ring row.
        var key = SinglePass(rows: 1, position: 4096);
        key.Should().Be(new PlanKey(Tokens: 1, Segments: 1, MaxKeys: 256, CommitRows: 1));
        var plan = LaunchPlan.For(Hopper(device), Qwen7B, key);

        // QKV [1 x 3584] -> 4608 outputs, one row: the decode GEMV, one warp per output column (a row of W), 4 warps a
        // group: 4608 / 4 = 1152 groups (under 4 waves of 16 x 132 resident groups); no split-K, no partial sums, no reduce.
        plan.QkvTiling.Should().Be(new ProjectionTiling { ChunkK = 1, ColumnsPerThread = 1, KSlices = 1, Gemv = 1 });
        plan.Qkv.GroupsPerMultiprocessor.Should().Be(16);
        Launch(plan.QkvConfig).Should().Be((1152, 128, 0));
        plan.QkvPartial.Should().Be(0);
        plan.Qkv.IsSplit.Should().BeFalse();

        // Attention: a decode pass takes the split-KV kernel: a group per (row, kv-head, split) with all 7 heads of the
        // kv-head: 7 x (128 + 32 + 3) + 1 + 4 warps x 7 x 128 = 4726 floats; 228 KB / (18904 + 1024 reserved) B = 11
        // groups per SM. 1 row x 4 kv-heads = 4 groups < 2 x 132, so the window splits: ceil(264 / 4) = 66 wanted,
        // capped at 256 / 16 = 16 (MinKeysPerSplit 16): 64 groups, their splits merged in the same launch.
        plan.Attention.SplitKv.Should().BeTrue();
        plan.HeadsPerGroup.Should().Be(7);
        plan.Attention.GroupsPerMultiprocessor.Should().Be(11);
        plan.AttentionSplits.Should().Be(16);
        Launch(plan.AttentionConfig).Should().Be((64, 128, 4726 * 4));
        plan.AttentionPartials.Should().Be(28L * 16);
        plan.Attention.HasCombine.Should().BeFalse();

        // Output [1 x 3584] -> 3584: the GEMV, 3584 warps in 896 groups, unsplit.
        plan.OutTiling.Should().Be(new ProjectionTiling { ChunkK = 1, ColumnsPerThread = 1, KSlices = 1, Gemv = 1 });
        Launch(plan.OutConfig).Should().Be((896, 128, 0));
        plan.OutPartial.Should().Be(0);
        plan.Output.IsSplit.Should().BeFalse();

        // Element launches: RoPE over 64 angles, scan over 4 x 128 channels (2 x 128 doubles), commit of 1 x 512 values.
        Launch(plan.RopeConfig).Should().Be((1, 128, 0));
        Launch(plan.ScanConfig).Should().Be((512, 128, 2 * 128 * 8));
        Launch(plan.CommitConfig).Should().Be((4, 128, 0));
    }

    [Theory]
    [MemberData(nameof(Hoppers))]
    public void Prefill4K_OnHopperDescription_RunsFourUnsplitPassesOfOnePlan(string device)
    {
        // 4096 prompt rows from position 0 in passes of MaxChunkTokens = 1024: every pass attends over the full ring
        // (its first row sees 256 keys) and commits 256 ring rows, so the four passes share one plan.
        var passes = PassPlan.Split(new[] { 0 }, new[] { 4096 }, new long[] { 0 }, Qwen7B.MaxChunkTokens);
        passes.Select(p => PlanKey.Of(p, Qwen7B.Window)).Should().Equal(Enumerable.Repeat(new PlanKey(1024, 1, 256, 256), 4));
        var plan = LaunchPlan.For(Hopper(device), Qwen7B, new PlanKey(1024, 1, 256, 256));

        // QKV: 128 row tiles x 36 column tiles = 4608 tiles; each 32-wide chunk of K stages 8 x 32 inputs and the tile's
        // 128 weight rows and their RoPE partners (stride 33): 8 x 32 + 2 x 128 x 33 = 8704 floats, 34816 B, so
        // 228 KB / (34816 + 1024 reserved) B = 6 groups per SM, 792 resident <= 4608 tiles: no split-K; the grid is
        // 4 waves of them, 3168 groups striding over the tiles.
        plan.QkvTiling.Should().Be(new ProjectionTiling { ChunkK = 32, ColumnsPerThread = 1, KSlices = 1, StageWeights = 1 });
        plan.Qkv.GroupsPerMultiprocessor.Should().Be(6);
        Launch(plan.QkvConfig).Should().Be((3168, 128, 8704 * 4));
        plan.QkvPartial.Should().Be(0);

        // Attention: 1024 rows x 4 kv-heads = 4096 groups >= 2112: no window split, no partials.
        plan.AttentionSplits.Should().Be(1);
        Launch(plan.AttentionConfig).Should().Be((4096, 128, 6165 * 4));
        plan.AttentionPartials.Should().Be(0);

        // Output: 128 x 28 = 3584 tiles >= 792: no split-K, the same staging.
        plan.OutTiling.Should().Be(new ProjectionTiling { ChunkK = 32, ColumnsPerThread = 1, KSlices = 1, StageWeights = 1 });
        Launch(plan.OutConfig).Should().Be((3168, 128, 8704 * 4));
        plan.OutPartial.Should().Be(0);

        // Grid-stride element launches are capped at 4 x 2112 = 8448 groups: RoPE 1024 x 64 angles = 512 groups,
        // scan 512 channels, commit 256 x 512 values = 1024 groups.
        Launch(plan.RopeConfig).Should().Be((512, 128, 0));
        Launch(plan.ScanConfig).Should().Be((512, 128, 2 * 128 * 8));
        Launch(plan.CommitConfig).Should().Be((1024, 128, 0));
        Launch(plan.QkvReduceConfig).Should().Be((8448, 128, 0));
    }

    [Fact]
    public void H100AndH200_DifferOnlyInBandwidth_SoTheirPlansAreEqual()
    {
        DeviceDescription.H100Sxm.MemoryBandwidth.Should().Be(3.35e12);
        DeviceDescription.H200.MemoryBandwidth.Should().Be(4.8e12);
        DeviceDescription.H200.Should().BeEquivalentTo(
            DeviceDescription.H100Sxm, options => options.ComparingByMembers<DeviceDescription>().Excluding(d => d.Name).Excluding(d => d.MemoryBandwidth));
        DeviceDescription.H200.Should().NotBe(DeviceDescription.H100Sxm);
        foreach (var key in new[] { new PlanKey(1, 1, 256, 1), new PlanKey(1024, 1, 256, 256), new PlanKey(64, 64, 256, 1) })
        {
            LaunchPlan.For(DeviceDescription.H200, Qwen7B, key).Should().BeEquivalentTo(LaunchPlan.For(DeviceDescription.H100Sxm, Qwen7B, key));
        }
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(4, 4)]
    [InlineData(32, 1)]
    public void LiveCpuDescription_GivesTheShapesAndPlansTheEngineUses(int warp, int warpsPerGroup)
    {
        var options = warp == 0
            ? new SomaEngineOptions(SomaAcceleratorKind.Cpu)
            : new SomaEngineOptions(SomaAcceleratorKind.Cpu, cpuThreadsPerWarp: warp, cpuWarpsPerGroup: warpsPerGroup);
        using var engine = SomaEngine.Create(options);
        var a = engine.Accelerator;
        var device = DeviceDescription.Of(a, engine.Device.PeakBandwidth);
        device.Should().BeEquivalentTo(new
        {
            a.Name,
            Kind = a.AcceleratorType,
            IsCpu = true,
            Multiprocessors = a.NumMultiprocessors,
            a.WarpSize,
            MaxGroupSize = a.MaxNumThreadsPerGroup,
            MaxThreadsPerMultiprocessor = a.MaxNumThreadsPerMultiprocessor,
            SharedMemoryPerGroup = a.MaxSharedMemoryPerGroup,
            MemoryBandwidth = (double?)null,
        });

        // The rules LaunchShapes applied to the accelerator before descriptions existed, for the CPU accelerator.
        var shapes = new LaunchShapes(device);
        var expected = new
        {
            Device = device,
            GroupSize = a.MaxNumThreadsPerGroup,
            MaxResidentGroups = Math.Max(1, a.NumMultiprocessors * Math.Max(1, a.MaxNumThreadsPerMultiprocessor / a.MaxNumThreadsPerGroup)),
            MaxSharedBytes = a.MaxSharedMemoryPerGroup,
            AttentionTargetGroups = 1,
            ProjectionTargetGroups = 1,
            MinSliceWidth = 64,
            MinKeysPerSplit = 16,
            StageAttentionTiles = false,
            TileKeys = Math.Max(a.MaxNumThreadsPerGroup, 16),
        };
        shapes.Should().BeEquivalentTo(expected);
        engine.Shapes.Should().BeEquivalentTo(expected);

        // The plan the layer cached for a decode step is the plan built from the description alone.
        var o = new SomaLayerOptions(21, 6, 2, 6, window: 7, includeCurrent: true, ropeTheta: 10000.0, maxChunkTokens: 16);
        using var layer = engine.CreateLayer(o, TestData.Weights(o, seed: 3));
        using var pool = layer.CreatePool(1);
        using var session = pool.OpenSession();
        session.Prefill(TestData.Inputs(o.ModelDim, 9, seed: 4));
        var decode = PassPlan.Split(new[] { 0 }, new[] { 1 }, new long[] { session.Position }, o.MaxChunkTokens).Single();
        LaunchPlan.For(device, o, PlanKey.Of(decode, o.Window)).Should().BeEquivalentTo(layer.Runner.PlanOf(decode));
    }

    public static TheoryData<Func<object>, string> Impossible => new()
    {
        { () => new DeviceDescription(" ", AcceleratorType.Cuda, 132, 32, 1024, 2048, 49152, null), "name" },
        { () => new DeviceDescription("x", (AcceleratorType)99, 132, 32, 1024, 2048, 49152, null), "kind" },
        { () => new DeviceDescription("x", AcceleratorType.Cuda, 0, 32, 1024, 2048, 49152, null), "multiprocessors" },
        { () => new DeviceDescription("x", AcceleratorType.Cuda, 132, 0, 1024, 2048, 49152, null), "warpSize" },
        { () => new DeviceDescription("x", AcceleratorType.Cuda, 132, 32, 16, 2048, 49152, null), "maxGroupSize" },
        { () => new DeviceDescription("x", AcceleratorType.Cuda, 132, 32, 1024, 512, 49152, null), "maxThreadsPerMultiprocessor" },
        { () => new DeviceDescription("x", AcceleratorType.Cuda, 132, 32, 1024, 2048, 0, null), "sharedMemoryPerGroup" },
        { () => new DeviceDescription("x", AcceleratorType.Cuda, 132, 32, 1024, 2048, 49152, -1.0), "memoryBandwidth" },
        { () => new DeviceDescription("x", AcceleratorType.Cuda, 132, 32, 1024, 2048, 49152, double.NaN), "memoryBandwidth" },
        { () => new DeviceDescription("x", AcceleratorType.Cuda, 132, 32, 1024, 2048, 49152, null, maxGroupsPerMultiprocessor: 0), "maxGroupsPerMultiprocessor" },
        { () => new DeviceDescription("x", AcceleratorType.Cuda, 132, 32, 1024, 2048, 49152, null, sharedMemoryPerMultiprocessor: 1024), "sharedMemoryPerMultiprocessor" },
        { () => new DeviceDescription("x", AcceleratorType.Cuda, 132, 32, 1024, 2048, 49152, null, sharedMemoryReservedPerGroup: -1), "sharedMemoryReservedPerGroup" },
    };

    [Theory]
    [MemberData(nameof(Impossible))]
    public void ImpossibleDescription_IsRefusedNamingTheValue(Func<object> create, string parameter)
    {
        create.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(parameter);
    }

    [Fact]
    public void DescriptionTooSmallForTheLayer_IsRefusedWhenPlanning()
    {
        // 1 KB of shared memory per group cannot hold one head's attention state at dh 128 (291 floats + a staged tile).
        var tiny = new DeviceDescription("tiny", AcceleratorType.Cuda, 1, 32, 128, 128, 1024, null);
        var plan = () => LaunchPlan.For(tiny, Qwen7B, new PlanKey(1, 1, 256, 1));
        plan.Should().Throw<NotSupportedException>().WithMessage("*headDim 128*1024 bytes*");
    }

    /// <summary>The built-in description named <paramref name="name"/>.</summary>
    private static DeviceDescription Hopper(string name) =>
        name == nameof(DeviceDescription.H100Sxm) ? DeviceDescription.H100Sxm : DeviceDescription.H200;

    /// <summary>The plan of one session's call of <paramref name="rows"/> rows at <paramref name="position"/>, which must be one pass.</summary>
    private static PlanKey SinglePass(int rows, long position) =>
        PlanKey.Of(PassPlan.Split(new[] { 0 }, new[] { rows }, new[] { position }, Qwen7B.MaxChunkTokens).Single(), Qwen7B.Window);

    /// <summary>Grid, group size and dynamic shared bytes of a launch.</summary>
    private static (int Grid, int Group, int SharedBytes) Launch(KernelConfig config) =>
        (config.GridDim.X, config.GroupDim.X, config.SharedMemoryConfig.ArraySize);
}
