using Soma;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests;

/// <summary>
/// The kernels read group and warp size at run time: CPU devices with other warp widths and group sizes run the
/// same layer to the same numbers, so the multi-thread paths (shared tiles, block scan, head chunks) are exercised.
/// </summary>
public sealed class WarpShapeTests
{
    [Theory]
    [InlineData(2, 1)]
    [InlineData(4, 1)]
    [InlineData(32, 1)]
    [InlineData(4, 4)]
    [InlineData(2, 8)]
    public void Layer_OnCpuDevicesOfOtherWarpAndGroupSizes_MatchesReference(int warp, int warpsPerGroup)
    {
        var o = new SomaLayerOptions(21, 6, 2, 6, window: 7, includeCurrent: warp % 8 == 0, ropeTheta: 10000.0, maxChunkTokens: 16);
        var w = TestData.Weights(o, seed: warp, biases: true);
        var x = TestData.Inputs(o.ModelDim, 40, seed: warp + 1);
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu, cpuThreadsPerWarp: warp, cpuWarpsPerGroup: warpsPerGroup));
        engine.Device.WarpSize.Should().Be(warp);
        engine.Device.MaxGroupSize.Should().Be(warp * warpsPerGroup);
        using var layer = engine.CreateLayer(o, w);
        using var pool = layer.CreatePool(2);
        using var a = pool.OpenSession();
        using var b = pool.OpenSession();

        var y = new List<float>(a.Prefill(x.AsSpan(0, 37 * o.ModelDim)));
        b.Prefill(x.AsSpan(0, 5 * o.ModelDim));
        for (int t = 37; t < 40; t++)
        {
            var batch = layer.DecodeBatch(new[] { a, b }, x.AsSpan(t * o.ModelDim, o.ModelDim).ToArray().Concat(x.AsSpan(0, o.ModelDim).ToArray()).ToArray());
            y.AddRange(batch.AsSpan(0, o.ModelDim).ToArray());
        }

        var reference = new SomaReference(o, w);
        Tolerance.ShouldMatch(y.ToArray(), reference.Run(reference.CreateState(), x), $"y on warp {warp} x {warpsPerGroup}");
    }

    /// <summary>
    /// A decode pass takes the field's step and the RoPE angles in its QKV epilogue, a prefill pass in the field scan and
    /// the table: n tokens decoded one at a time leave the same ring (in its storage type) and the same fp64 field, bit
    /// for bit, as a prefill of the same n tokens, with dh/2 odd. n is at most the group size (6, wrapping the ring of
    /// W = 4, where the group allows), so the scan gives each token its own thread and adds them in order; both
    /// projections sum each k in input order. (The CPU device refuses warps of 1 thread: 2 is the smallest.)
    /// </summary>
    [Theory]
    [InlineData(2, 1, SomaStorageType.Float16)]
    [InlineData(2, 4, SomaStorageType.BFloat16)]
    [InlineData(4, 2, SomaStorageType.Float32)]
    [InlineData(32, 1, SomaStorageType.Float16)]
    public void DecodeLoop_LeavesTheStateOfAPrefillOfTheSameTokens_BitForBit(int warp, int warpsPerGroup, SomaStorageType ring)
    {
        var o = new SomaLayerOptions(21, 6, 2, 6, window: 4, ropeTheta: 10000.0) { RingStorage = ring };
        var w = TestData.Weights(o, seed: 50 + warp, biases: true);
        int n = Math.Min(6, warp * warpsPerGroup);
        var x = TestData.Inputs(o.ModelDim, n, seed: 60 + warp);
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu, cpuThreadsPerWarp: warp, cpuWarpsPerGroup: warpsPerGroup));
        using var layer = engine.CreateLayer(o, w);
        using var prefilled = layer.CreateSession();
        using var decoded = layer.CreateSession();

        prefilled.Prefill(x);
        layer.LastCallProfile!.LaunchesByKernel.Should().ContainKeys("rope-table", "field-scan");
        for (int t = 0; t < n; t++)
        {
            decoded.Decode(x.AsSpan(t * o.ModelDim, o.ModelDim));
        }

        layer.LastCallProfile!.LaunchesByKernel.Should().NotContainKeys("rope-table", "field-scan");
        var (p, d) = (prefilled.DownloadState(), decoded.DownloadState());
        d.RingK.Select(BitConverter.SingleToInt32Bits).Should().Equal(p.RingK.Select(BitConverter.SingleToInt32Bits), "rotated keys");
        d.RingV.Select(BitConverter.SingleToInt32Bits).Should().Equal(p.RingV.Select(BitConverter.SingleToInt32Bits));
        d.Field.Select(BitConverter.DoubleToInt64Bits).Should().Equal(p.Field.Select(BitConverter.DoubleToInt64Bits), "the field");
        d.Field.Should().Contain(f => f != 0);
    }
}
