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
}
