using ILGPU.Runtime;
using Soma.Internal;

namespace Soma.Tests;

/// <summary>
/// Occupancy sizes the plans: a description's limits (threads, groups and shared memory per multiprocessor), or
/// ILGPU's estimate of the compiled kernels on a live accelerator; grids and splits follow whichever the plan is given.
/// </summary>
public sealed class OccupancyTests
{
    /// <summary>The attention layer of Qwen2.5-7B with W = 256, 1024-row passes.</summary>
    private static readonly SomaLayerOptions Qwen7B = Cli.Bench.BenchShapes.Qwen7B();

    [Theory]
    [InlineData(128, 0, 16)] // 2048 threads / 128
    [InlineData(1024, 0, 2)] // 2048 threads / 1024
    [InlineData(32, 0, 32)] // 64 by threads, but at most 32 groups per SM
    [InlineData(128, 16 * 1024, 13)] // 228 KB / (16 KB + 1 KB reserved)
    [InlineData(128, 6165 * 4, 9)] // the Qwen attention group: 228 KB / (24660 + 1024) B
    [InlineData(128, 48 * 1024, 4)] // the most a group may take: 228 KB / 49 KB
    public void HopperDescription_LimitsGroupsByThreadsGroupsAndSharedMemory(int groupSize, int sharedBytes, int expected)
    {
        DeviceDescription.H100Sxm.GroupsPerMultiprocessor("attention", groupSize, sharedBytes).Should().Be(expected);
        DeviceDescription.H200.GroupsPerMultiprocessor("qkv", groupSize, sharedBytes).Should().Be(expected);
    }

    [Fact]
    public void DescriptionWithoutPerMultiprocessorLimits_IsBoundByThreadsOnly()
    {
        var device = new DeviceDescription("x", AcceleratorType.Cuda, 10, 32, 1024, 2048, 48 * 1024, null);
        device.GroupsPerMultiprocessor("attention", 128, 48 * 1024).Should().Be(16);
    }

    [Fact]
    public void PlanFollowsTheOccupancyItIsGiven_NotThreadCounts()
    {
        // A device whose kernels keep one group per SM resident (as heavy register use would): the QKV GEMV of a decode
        // step (one warp per output column, never split) then takes at most 4 waves of 132 groups, 528 groups of 4 warps
        // striding over the 4608 columns; the window splits into ceil(132 / 4) = 33, capped at 16; element launches take
        // at most 4 x 132 groups; the split-KV attention's occupancy
        // is asked too.
        var one = new FixedOccupancy(1);
        var plan = LaunchPlan.For(DeviceDescription.H100Sxm, Qwen7B, new PlanKey(1, 1, 256, 1), occupancy: one);
        plan.Qkv.Tiling.Should().Be(new Kernels.ProjectionTiling { ChunkK = 1, ColumnsPerThread = 1, KSlices = 1, Gemv = 1 });
        plan.Qkv.Config.GridDim.X.Should().Be(4 * 132);
        plan.Qkv.GroupsPerMultiprocessor.Should().Be(1);
        plan.Attention.GroupsPerMultiprocessor.Should().Be(1);
        one.Asked.Should().Contain(new[] { "qkv-gemv", "attention-decode", "linear-gemv", "rope-table", "field-scan", "commit" });

        var prefill = LaunchPlan.For(DeviceDescription.H100Sxm, Qwen7B, new PlanKey(1024, 1, 256, 256), occupancy: one);
        prefill.CommitConfig.GridDim.X.Should().Be(4 * 132);
        prefill.Attention.Config.GridDim.X.Should().Be(4 * 132);
        one.Asked.Should().Contain("qkv").And.Contain("linear");

        // The description's own limits give the plan DeviceDescriptionTests spells out.
        var described = LaunchPlan.For(DeviceDescription.H100Sxm, Qwen7B, new PlanKey(1, 1, 256, 1));
        described.Qkv.Config.GridDim.X.Should().Be(4608 / 4);
    }

    [Fact]
    public void LayerWithStorageTypes_AsksTheOccupancyOfItsOwnVariants()
    {
        // A layer of bf16 weights and an fp16 ring launches the variants of that pair, so its plans ask their
        // occupancy (a live GPU's differs: registers); at the same answers the plan is the fp32 layer's.
        var asked = new FixedOccupancy(1);
        var options = Qwen7B with { WeightStorage = SomaStorageType.BFloat16, RingStorage = SomaStorageType.Float16 };
        var decode = LaunchPlan.For(DeviceDescription.H100Sxm, options, new PlanKey(1, 1, 256, 1), occupancy: asked);
        LaunchPlan.For(DeviceDescription.H100Sxm, options, new PlanKey(1024, 1, 256, 256), occupancy: asked);
        asked.Asked.Should().Contain(new[]
            {
                "qkv-gemv-wbf16-rf16", "qkv-reduce-rf16", "attention-rf16", "linear-gemv-wbf16", "qkv-wbf16-rf16", "linear-wbf16",
                "rope-table", "field-scan", "commit",
            })
            .And.NotContain(new[] { "qkv-gemv", "qkv-reduce", "attention", "linear-gemv", "qkv", "linear" });
        var fp32 = LaunchPlan.For(DeviceDescription.H100Sxm, Qwen7B, new PlanKey(1, 1, 256, 1), occupancy: new FixedOccupancy(1));
        decode.Qkv.Should().Be(fp32.Qkv);
        decode.Attention.Should().Be(fp32.Attention);
    }

    [Fact]
    public void SixteenRowPass_SplitsKUntilTheSplitTilesFillTheGpu()
    {
        // 16 rows take the batched tile loop: one block of 2 row tiles a group (2 sets of 64 threads) x 72 column tiles
        // of 64 = 72 groups. Its 64-wide chunks stage 16 x 64 inputs and 2 x 64 x 65 weights, 37376 B, so the H100 keeps
        // 6 groups per SM (792): ceil(792 / 72) = 11 slices of 326; a split tile stages the same chunk (792 again):
        // 72 x 11 = 792 groups.
        var plan = LaunchPlan.For(DeviceDescription.H100Sxm, Qwen7B, new PlanKey(16, 1, 256, 16));
        plan.Qkv.Tiling.Should().Be(new Kernels.ProjectionTiling { ChunkK = 64, ColumnsPerThread = 1, KSlices = 11, StageWeights = 1, RowTiles = 2 });
        plan.Qkv.Tiling.WeightReads(16).Should().Be(1);
        plan.Qkv.Config.GridDim.X.Should().Be(792);
        plan.Qkv.GroupsPerMultiprocessor.Should().Be(6);
    }

    [Fact]
    public void LiveOccupancy_IsIlgpusEstimateOfEachCompiledKernel()
    {
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu));
        var live = new LiveOccupancy(engine.Accelerator, engine.Kernels, DeviceDescription.H100Sxm);
        int group = engine.Shapes.GroupSize;
        foreach (var kernel in KernelCatalog.All)
        {
            int expected = engine.Accelerator.EstimateMaxActiveGroupsPerMultiprocessor(engine.Kernels.Compiled(kernel.Name), group, 256);
            live.GroupsPerMultiprocessor(kernel.Name, group, 256).Should().Be(expected, kernel.Name);
        }

        // A storage pair's variants answer by their own names (those soma ptx writes) once the pair is loaded.
        engine.Kernels.For<Kernels.BFloat16View, Kernels.Float16View>();
        var pair = new[] { "qkv-wbf16-rf16", "qkv-gemv-wbf16-rf16", "qkv-reduce-rf16", "attention-rf16", "linear-wbf16", "linear-gemv-wbf16" };
        KernelCatalog.Variants.Select(v => v.Name).Should().Contain(pair);
        foreach (var name in pair)
        {
            int expected = engine.Accelerator.EstimateMaxActiveGroupsPerMultiprocessor(engine.Kernels.Compiled(name), group, 256);
            live.GroupsPerMultiprocessor(name, group, 256).Should().Be(expected, name);
        }

        // The CPU engine plans from its description: ILGPU's CPU estimate is its simulated threads over the group size,
        // device-wide rather than per multiprocessor.
        engine.Occupancy.Should().BeOfType<DeviceDescription>();
    }

    /// <summary>An occupancy of <paramref name="groups"/> for every kernel, recording which kernels were asked about.</summary>
    private sealed class FixedOccupancy(int groups) : IOccupancy
    {
        public List<string> Asked { get; } = new();

        public int GroupsPerMultiprocessor(string kernel, int groupSize, int sharedBytes)
        {
            Asked.Add(kernel);
            return groups;
        }
    }
}
