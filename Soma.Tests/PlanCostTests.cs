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
    public void Qwen7BDecodeStep_OnH100_IsSevenLaunches_WithSplitKAndSplitKvAttention()
    {
        var plan = LaunchPlan.For(DeviceDescription.H100Sxm, Qwen7B, new PlanKey(1, 1, 256, 1));
        var cost = plan.Cost;
        Names(cost).Should().Equal(
            "rope-table", "qkv-gemv", "qkv-reduce", "field-scan", "attention-decode", "linear-gemv", "linear-reduce");
        cost.Launches.Should().OnlyContain(c => c == 0 || c == 1);

        // n = 1, D = 3584, H = 28, Hkv = 4, dh = 128, M = 4608, Q = 3584, C = 512, K = 256 keys, 56 split-K slices
        // and 16 key splits (DeviceDescriptionTests derives these).
        const long n = 1, d = 3584, h = 28, hkv = 4, dh = 128, m = 4608, q = 3584, c = 512, keys = 256, slices = 56, splits = 16;
        long flops = 2 * n * d * m + slices * n * m + 3 * n * c + 4 * n * h * dh * keys + 2 * (n * h * splits) * dh + 2 * n * q * d + slices * n * d;
        cost.Flops.Should().Be(flops);

        long read =
            (8 * n + 8 * (dh / 2))
            + 4 * (n * d + d * m + m) + 4 * n * dh
            + (4 * slices * n * m + 4 * m + 4 * n * dh)
            + (4 * n * c + 8 * c + 4 * hkv)
            + 4 * (n * q + 2 * n * c + 2 * keys * c + n * c + h)
            + 4 * n * h * splits * (dh + 2) + 4 * n * hkv
            + 4 * (n * q + q * d + d)
            + (4 * slices * n * d + 4 * d);
        cost.BytesRead.Should().Be(read);
        cost.BytesRead.Should().BeGreaterThan(4 * (d * m + q * d), "the weights of both projections dominate a decode step");
        cost.CommitBytes.Should().Be(4 * 2 * 1 * c + 8 * c);
    }

    [Fact]
    public void Qwen7BPrefill4K_OnH100_IsFourPassesOfSixLaunches()
    {
        var plan = LaunchPlan.For(DeviceDescription.H100Sxm, Qwen7B, new PlanKey(1024, 1, 256, 256));
        Names(plan.Cost).Should().Equal("rope-table", "qkv", "field-scan", "attention", "linear");
        const long n = 1024, d = 3584, h = 28, dh = 128, m = 4608, q = 3584, c = 512, keys = 256;
        plan.Cost.Flops.Should().Be(2 * n * d * m + 3 * n * c + 4 * n * h * dh * keys + 2 * n * q * d);
    }

    private static string[] Names(PassCost cost) =>
        KernelCatalog.All.Where((_, i) => cost.Launches[i] > 0).Select(k => k.Name).ToArray();
}
