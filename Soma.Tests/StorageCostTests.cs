using Soma.Internal;

namespace Soma.Tests;

/// <summary>
/// The device bytes a call profile counts follow the storage types: the Qwen2.5-7B decode step planned for the
/// built-in H100 SXM description (no GPU needed) with bf16 weights and an fp16 ring against the same step in fp32.
/// </summary>
public sealed class StorageCostTests
{
    [Fact]
    public void Qwen7BDecodeStep_With16BitWeightsAndRing_ReadsHalfTheWeightAndRingBytes()
    {
        var fp32 = new SomaLayerOptions(3584, 28, 4, 128, window: 256, ropeTheta: 1000000.0);
        var narrow = fp32 with { WeightStorage = SomaStorageType.BFloat16, RingStorage = SomaStorageType.Float16 };
        var key = new PlanKey(1, 1, 256, 1);
        var wide = LaunchPlan.For(DeviceDescription.H100Sxm, fp32, key).Cost;
        var cost = LaunchPlan.For(DeviceDescription.H100Sxm, narrow, key).Cost;

        // n = 1, D = 3584, M = 4608, Q = 3584, C = 512, K = 256 keys: 2 bytes saved on every weight (both projections),
        // on every key and value attention reads (the chunk's and the ring's) and on the rotated k and v written.
        const long n = 1, d = 3584, m = 4608, q = 3584, c = 512, keys = 256;
        cost.Launches.Should().Equal(wide.Launches);
        cost.Flops.Should().Be(wide.Flops);
        cost.BytesRead.Should().Be(wide.BytesRead - 2 * (d * m + q * d) - 2 * (2 * n * c + 2 * keys * c));
        cost.BytesWritten.Should().Be(wide.BytesWritten - 2 * 2 * n * c);
        cost.CommitBytes.Should().Be(2 * (2 * 2 * 1 * c + 8 * c), "the row of K and V and the field, and the elements they overwrite, saved");
        narrow.StateBytes.Should().Be(2L * 256 * c * 2 + c * 8);
    }
}
