using ILGPU;
using ILGPU.Runtime;
using Soma.Internal;

namespace Soma.Tests;

/// <summary>
/// The performance model on described devices (no GPU, nothing run): a bytes-bound and a flop-bound launch, wave
/// quantisation and residency, a decode step that is the sum of its parts with the plan's bytes, a 4K prefill of four
/// passes, and predictions that fall as bandwidth grows.
/// </summary>
public sealed class PerformanceModelTests
{
    /// <summary>The attention layer of Qwen2.5-7B with W = 256 (as PlanCostTests and Soma.Cli's BenchShapes.Qwen7B).</summary>
    private static readonly SomaLayerOptions Qwen7B =
        new(modelDim: 3584, heads: 28, kvHeads: 4, headDim: 128, window: 256, includeCurrent: true, ropeTheta: 1000000.0, maxChunkTokens: 1024);

    /// <summary>Round numbers: half of peak, 2 µs a launch, 1 µs a wait, 4 µs a copy, the whole host link.</summary>
    private static readonly PerformanceConstants Half = new(0.5, 0.5, 2e-6, 1e-6, 4e-6, 1.0, "test constants");

    /// <summary>A decode step's copies and waits as the one-pass host call path makes them, with x and y over the host link.</summary>
    private static readonly CallTraffic DecodeTraffic = new(Uploads: 3, Downloads: 1, HostWaits: 2, DeviceCopies: 3, HostBytes: 2L * 3584 * 4);

    [Fact]
    public void Launch_MovingMoreBytesThanFlopsAllow_IsBytesOverBandwidth()
    {
        // 10 SMs x 16 groups of 128 threads = 160 slots: a grid of 160 is one full wave.
        var p = PerformanceModel.Launch(Device(1e12), Half, "k", new KernelConfig(160, 128), 1, 300_000_000, 200_000_000, 1_000_000_000);

        (p.GroupsPerMultiprocessor, p.Waves, p.Busy, p.FlopBound).Should().Be((16, 1L, 1.0, false));
        p.WorkSeconds.Should().BeApproximately(5e8 / (0.5 * 1e12), 1e-15);
        p.Seconds.Should().BeApproximately(1e-3 + 2e-6, 1e-15);
    }

    [Fact]
    public void Launch_ComputingMoreFlopsThanBytesAllow_IsFlopsOverPeak()
    {
        var p = PerformanceModel.Launch(Device(1e12), Half, "k", new KernelConfig(160, 128), 2, 1_000, 1_000, 1_000_000_000_000);

        p.FlopBound.Should().BeTrue();
        p.WorkSeconds.Should().BeApproximately(1e12 / (0.5 * 1e15), 1e-15);
        p.Seconds.Should().BeApproximately(2e-3 + 2 * 2e-6, 1e-15, "each launch adds its launch cost");
    }

    [Theory]
    [InlineData(160, 1, 1.0)]
    [InlineData(161, 2, 161.0 / 320)]
    [InlineData(320, 2, 1.0)]
    [InlineData(80, 1, 0.5)]
    [InlineData(1, 1, 1.0 / 160)]
    public void Launch_GridNotFillingItsWaves_TakesAsLongAsItsWaves(int grid, long waves, double busy)
    {
        var p = PerformanceModel.Launch(Device(1e12), Half, "k", new KernelConfig(grid, 128), 1, 500_000_000, 0, 0);

        (p.Waves, p.Busy).Should().Be((waves, busy));
        p.WorkSeconds.Should().BeApproximately(1e-3 / busy, 1e-12, "the bytes move at the share of the slots the grid keeps busy");
    }

    [Fact]
    public void GroupsPerMultiprocessor_AreLimitedByThreadsSharedMemoryAndTheBlockLimit()
    {
        var hopper = DeviceDescription.H100Sxm;
        PerformanceModel.GroupsPerMultiprocessor(hopper, 128, 0).Should().Be(16, "2048 threads / 128");
        PerformanceModel.GroupsPerMultiprocessor(hopper, 32, 0).Should().Be(32, "64 by threads, capped at 32 resident blocks");
        PerformanceModel.GroupsPerMultiprocessor(hopper, 128, 24_532).Should().Be(9, "228 KB / (24,532 + 1,024 reserved) bytes");
        PerformanceModel.GroupsPerMultiprocessor(hopper, 128, 16_384).Should().Be(13, "228 KB / (16 KB + 1 KB)");
        PerformanceModel.GroupsPerMultiprocessor(Device(1e12), 128, 40_000).Should().Be(16, "no shared-memory limit when the description has none");
    }

    [Fact]
    public void DecodeStep_OnH100_IsTheSumOfItsParts_WithThePlansBytes()
    {
        var passes = PerformanceModel.Passes(Qwen7B, 1, 4096);
        passes.Should().Equal(new PlanKey(1, 1, 256, 1));
        var cost = LaunchPlan.For(DeviceDescription.H100Sxm, Qwen7B, passes[0]).Cost;

        var p = PerformanceModel.Predict(DeviceDescription.H100Sxm, Qwen7B, passes, DecodeTraffic);

        p.Kernels.Select(k => k.Kernel).Should().Equal(
            "qkv-gemv", "attention-decode", "linear-gemv", "commit");
        p.Launches.Should().Be(4, "no RoPE table and no field scan at decode (the QKV epilogue computes both), no split-K reduce (the GEMV is unsplit), the key splits merged inside the attention launch");
        p.BytesRead.Should().Be(cost.BytesRead + cost.CommitBytes, "the model reads the plan's bytes, the commit's included");
        p.BytesWritten.Should().Be(cost.BytesWritten + cost.CommitBytes);
        p.Flops.Should().Be(cost.Flops);
        p.Kernels.Should().OnlyContain(k => !k.FlopBound, "a decode step moves bytes");
        var c = PerformanceConstants.Assumed;
        foreach (var k in p.Kernels)
        {
            k.Seconds.Should().BeApproximately(k.WorkSeconds + k.Launches * c.LaunchSeconds, 1e-15);
        }

        p.CopySeconds.Should().BeApproximately((3 + 1 + 3) * c.CopySeconds + 2.0 * 3584 * 4 / (c.HostLinkEfficiency * 64e9), 1e-15);
        p.HostWaitSeconds.Should().BeApproximately(2 * c.HostWaitSeconds, 1e-15);
        p.Seconds.Should().BeApproximately(p.Kernels.Sum(k => k.Seconds) + p.CopySeconds + p.HostWaitSeconds, 1e-15);

        // The projections' weights bound the step from below: 2 x 3584 x 4608 + 3584 x 3584 floats at 0.8 x 3.35 TB/s.
        double weights = 4.0 * (3584 * 4608 + 3584 * 3584) / (c.BandwidthEfficiency * 3.35e12);
        p.Seconds.Should().BeGreaterThan(weights);
    }

    [Fact]
    public void Prefill4K_OnH100_IsFourPassesOfOnePlan_AndItsProjectionsReadTheWeightsOncePerRowTile()
    {
        var passes = PerformanceModel.Passes(Qwen7B, 4096, 0);
        passes.Should().Equal(Enumerable.Repeat(new PlanKey(1024, 1, 256, 256), 4));
        var cost = LaunchPlan.For(DeviceDescription.H100Sxm, Qwen7B, passes[0]).Cost;

        var p = PerformanceModel.Predict(DeviceDescription.H100Sxm, Qwen7B, passes, new CallTraffic(12, 4, 12, 3, 2L * 4096 * 3584 * 4));

        p.Kernels.Select(k => (k.Kernel, k.Launches)).Should().Equal(
            ("rope-table", 4), ("qkv", 4), ("field-scan", 4), ("attention", 4), ("linear", 4), ("commit", 4));
        p.Flops.Should().Be(4 * cost.Flops);
        // The tile loop reads each weight once per tile of 8 rows (1024 / 8 = 128 times a pass: the cost counts the
        // loads the kernel issues, caches not modelled), so the fp32 projections are bound by those bytes.
        long d = Qwen7B.ModelDim, m = (Qwen7B.Heads + 2 * Qwen7B.KvHeads) * Qwen7B.HeadDim;
        var qkvCost = cost.KernelBytesRead[KernelCatalog.All.Select(k => k.Name).ToList().IndexOf("qkv")];
        qkvCost.Should().Be(4 * (1024 * d + m) + 128 * 4 * d * m + 4 * 1024 * Qwen7B.HeadDim);
        p.Kernels.Where(k => k.Kernel is "qkv" or "linear").Should().OnlyContain(k => !k.FlopBound);
        var qkv = p.Kernels.Single(k => k.Kernel == "qkv");
        (qkv.Grid, qkv.GroupsPerMultiprocessor, qkv.Waves).Should().Be((3168, 6, 4L), "3168 groups over 132 x 6 slots");
    }

    [Fact]
    public void Prediction_FallsAsBandwidthGrows_AndTheH200BeatsTheH100()
    {
        var passes = PerformanceModel.Passes(Qwen7B, 1, 4096);
        var predictions = new[] { 1e12, 2e12, 3.35e12, 4.8e12, 1e13 }
            .Select(b => PerformanceModel.Predict(DeviceDescription.Hopper("Hopper", b), Qwen7B, passes, DecodeTraffic)).ToArray();

        predictions.Select(p => p.Seconds).Should().BeInDescendingOrder().And.OnlyHaveUniqueItems();
        for (int i = 1; i < predictions.Length; i++)
        {
            predictions[i].Kernels.Zip(predictions[i - 1].Kernels).Should().OnlyContain(pair => pair.First.Seconds <= pair.Second.Seconds);
        }

        var h100 = PerformanceModel.Predict(DeviceDescription.H100Sxm, Qwen7B, passes, DecodeTraffic);
        var h200 = PerformanceModel.Predict(DeviceDescription.H200, Qwen7B, passes, DecodeTraffic);
        h200.Seconds.Should().BeLessThan(h100.Seconds);
        h100.Seconds.Should().Be(predictions[2].Seconds, "the H100 description is the 3.35 TB/s Hopper");
        PerformanceModel.Predict(DeviceDescription.H100Sxm, Qwen7B, passes, DecodeTraffic).Seconds.Should().Be(h100.Seconds, "the model is deterministic");
    }

    [Fact]
    public void Model_RefusesDescriptionsAndConstantsItCannotUse()
    {
        var cpu = new DeviceDescription("cpu", AcceleratorType.CPU, 2, 1, 16, 16, 1024, memoryBandwidth: null);
        var act = () => PerformanceModel.Predict(cpu, Qwen7B, PerformanceModel.Passes(Qwen7B, 1, 4096), DecodeTraffic);
        act.Should().Throw<ArgumentException>().WithParameterName("device");
        var noFlops = () => PerformanceModel.Launch(new DeviceDescription("gpu", AcceleratorType.Cuda, 2, 32, 128, 256, 1024, 1e12), Half, "k", new KernelConfig(1, 32), 1, 1, 1, 1);
        noFlops.Should().Throw<ArgumentException>().WithMessage("*peak fp32 FLOPs*");

        var efficiency = () => new PerformanceConstants(0, 0.5, 0, 0, 0, 1, "x");
        efficiency.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("bandwidthEfficiency");
        var cost = () => new PerformanceConstants(1, 1, -1e-6, 0, 0, 1, "x");
        cost.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("launchSeconds");
        var flops = () => Device(1e12) with { PeakFp32Flops = -1 };
        flops.Should().Throw<ArgumentOutOfRangeException>().WithParameterName(nameof(DeviceDescription.PeakFp32Flops));
        PerformanceConstants.Assumed.CalibratedBy.Should().StartWith("none", "no GPU run has calibrated the constants yet");
    }

    /// <summary>A GPU of 10 SMs x 2048 threads, <paramref name="bandwidth"/> bytes/s and 1 PFLOPS, no shared-memory or block limit.</summary>
    private static DeviceDescription Device(double bandwidth) =>
        new("test GPU", AcceleratorType.Cuda, 10, 32, 1024, 2048, 48 * 1024, bandwidth) { PeakFp32Flops = 1e15, HostLinkBandwidth = 1e10 };
}
