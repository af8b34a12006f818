using Soma.Internal;

namespace Soma.Tests;

/// <summary>
/// The cost the profile counts, for the GPU-shaped plans built from the built-in H100 SXM description (no GPU needed):
/// the Qwen2.5-7B decode step and 4K prefill, launches by kernel, and the decode step's FLOPs and bytes from the shapes.
/// </summary>
public sealed class PlanCostTests
{
    /// <summary>The attention layer of Qwen2.5-7B with W = 256 (as DeviceDescriptionTests and Soma.Cli's BenchShapes.Qwen7B).</summary>
    private static readonly SomaLayerOptions Qwen7B =
        new(modelDim: 3584, heads: 28, kvHeads: 4, headDim: 128, window: 256, includeCurrent: true, ropeTheta: 1000000.0, maxChunkTokens: 1024);

    [Fact]
    public void Qwen7BDecodeStep_OnH100_IsThreeLaunchesAndTheCommit_WithTheGemvAndSplitKvAttention()
    {
        var plan = LaunchPlan.For(DeviceDescription.H100Sxm, Qwen7B, new PlanKey(1, 1, 256, 1));
        var cost = plan.Cost;
        Names(cost).Should().Equal("qkv-gemv", "attention-decode", "linear-gemv");
        cost.Launches.Should().OnlyContain(c => c == 0 || c == 1);

        // n = 1, D = 3584, H = 28, Hkv = 4, dh = 128, M = 4608, Q = 3584, C = 512, K = 256 keys, the GEMV unsplit,
        // 16 key splits merged in the attention launch (DeviceDescriptionTests derives these).
        const long n = 1, d = 3584, h = 28, hkv = 4, dh = 128, m = 4608, q = 3584, c = 512, keys = 256, splits = 16;
        long flops = 2 * n * d * m + 3 * n * c + 4 * n * h * dh * keys + 2 * (n * h * splits) * dh + 2 * n * q * d;
        cost.Flops.Should().Be(flops);

        long read =
            4 * (n * d + d * m + m) + (8 * n + 8 * (dh / 2)) + (8 * c + 4 * hkv) // the GEMV runs the epilogue: angles and field step
            + 4 * (n * q + 2 * n * c + 2 * keys * c + n * c + h)
            + 4 * n * h * splits * (dh + 2) + 4 * n * hkv
            + 4 * (n * q + q * d + d);
        cost.BytesRead.Should().Be(read);
        cost.BytesRead.Should().BeGreaterThan(4 * (d * m + q * d), "the weights of both projections dominate a decode step");
        cost.CommitBytes.Should().Be(2 * (4 * 2 * 1 * c + 8 * c), "the row of K and V and the field, and the elements they overwrite, saved");
    }

    [Fact]
    public void Qwen7BPrefill4K_OnH100_IsFourPassesOfSixLaunches()
    {
        var plan = LaunchPlan.For(DeviceDescription.H100Sxm, Qwen7B, new PlanKey(1024, 1, 256, 256));
        Names(plan.Cost).Should().Equal("rope-table", "qkv", "field-scan", "attention", "linear");
        const long n = 1024, d = 3584, h = 28, dh = 128, m = 4608, q = 3584, c = 512, keys = 256;
        plan.Cost.Flops.Should().Be(2 * n * d * m + 3 * n * c + 4 * n * h * dh * keys + 2 * n * q * d);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(64)]
    public void DecodePlans_LaunchNoRopeTableAndNoFieldScan_FourLaunchesPlusTheirSplits(int batch)
    {
        foreach (var device in new[] { DeviceDescription.H100Sxm, DeviceDescription.H200 })
        {
            var decode = LaunchPlan.For(device, Qwen7B, new PlanKey(batch, batch, 256, 1));
            (decode.Rope, decode.RopeTable, decode.Field, decode.FieldScan).Should().Be((true, false, true, false), $"a decode plan of batch {batch} on {device.Name}");
            Names(decode.Cost).Should().NotContain(new[] { "rope-table", "field-scan" });
            int splits = (decode.QkvPartial > 0 ? 1 : 0) + (decode.Attention.HasCombine ? 1 : 0) + (decode.OutPartial > 0 ? 1 : 0);
            (decode.Cost.Launches.Sum() + 1).Should().Be(4 + splits, "qkv, attention, output, commit and the plan's reduces and combine");

            var prefill = LaunchPlan.For(device, Qwen7B, new PlanKey(batch + 1, batch, 256, 2));
            (prefill.RopeTable, prefill.FieldScan).Should().Be((true, true), "a prefill pass tabulates its angles and scans its field");
            var standard = LaunchPlan.For(device, Qwen7B, new PlanKey(batch, batch, 256, 1), standard: true);
            (standard.Field, standard.FieldScan, standard.RopeTable).Should().Be((false, false, false));
        }
    }

    private static string[] Names(PassCost cost) =>
        KernelCatalog.All.Where((_, i) => cost.Launches[i] > 0).Select(k => k.Name).ToArray();
}
