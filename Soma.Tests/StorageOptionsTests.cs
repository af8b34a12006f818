using Soma;

namespace Soma.Tests;

/// <summary>Storage options and 16-bit weights are checked when made, with errors that name the member (host only).</summary>
public sealed class StorageOptionsTests
{
    private static readonly SomaLayerOptions Shape = new(4, 2, 1, 2, window: 3);

    [Fact]
    public void UndefinedStorageTypes_AreRejected_AndDefaultsAreTheWeightsOwnTypeAndAnFp32Ring()
    {
        Shape.WeightStorage.Should().BeNull("weights keep their own type unless asked");
        Shape.RingStorage.Should().Be(SomaStorageType.Float32);
        Shape.StateBytes.Should().Be(2L * 3 * 2 * 4 + 2 * 8);
        (Shape with { RingStorage = SomaStorageType.BFloat16 }).StateBytes.Should().Be(2L * 3 * 2 * 2 + 2 * 8);

        Action weights = () => _ = Shape with { WeightStorage = (SomaStorageType)7 };
        Action ring = () => _ = Shape with { RingStorage = (SomaStorageType)(-1) };
        weights.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("WeightStorage").WithMessage("*Float32, Float16 or BFloat16*");
        ring.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("RingStorage");
    }

    [Fact]
    public void SixteenBitWeights_AreValidatedLikeFloats_AndWidenExactly()
    {
        var r = SomaLayerWeights.CreateRandom(Shape, seed: 360);
        ushort[] Bits(float[] values) => values.Select(v => Internal.StorageTypes.Narrow(v, SomaStorageType.BFloat16)).ToArray();
        var w = SomaLayerWeights.FromBits(SomaStorageType.BFloat16, Bits(r.Wq), Bits(r.Wk), Bits(r.Wv), Bits(r.Wo), r.Gamma, r.Alpha);

        w.Validate(Shape);
        w.ProjectionType.Should().Be(SomaStorageType.BFloat16);
        w.Wq.Should().Equal(r.Wq.Select(v => Internal.StorageTypes.Round(v, SomaStorageType.BFloat16)), "reading Wq widens the bits exactly");

        Action fp32 = () => SomaLayerWeights.FromBits(SomaStorageType.Float32, Bits(r.Wq), Bits(r.Wk), Bits(r.Wv), Bits(r.Wo), r.Gamma, r.Alpha);
        fp32.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("type");
        var shortWk = SomaLayerWeights.FromBits(SomaStorageType.BFloat16, Bits(r.Wq), new ushort[3], Bits(r.Wv), Bits(r.Wo), r.Gamma, r.Alpha);
        FluentActions.Invoking(() => shortWk.Validate(Shape)).Should().Throw<ArgumentException>().WithParameterName("Wk").WithMessage("*Hkv*dh*");
        var infinite = Bits(r.Wo);
        infinite[1] = 0x7F80;
        var withInfinity = SomaLayerWeights.FromBits(SomaStorageType.BFloat16, Bits(r.Wq), Bits(r.Wk), Bits(r.Wv), infinite, r.Gamma, r.Alpha);
        FluentActions.Invoking(() => withInfinity.Validate(Shape)).Should().Throw<ArgumentException>().WithParameterName("Wo").WithMessage("*Wo[1]*finite*");
    }

    [Fact]
    public void WeightsBeyondFp16sRange_AreRefused_WhenStoredAsFp16()
    {
        var w = SomaLayerWeights.CreateRandom(Shape, seed: 361);
        w.Wv[2] = 70000f;
        w.Validate(Shape);
        w.Validate(Shape with { WeightStorage = SomaStorageType.BFloat16 });
        FluentActions.Invoking(() => w.Validate(Shape with { WeightStorage = SomaStorageType.Float16 }))
            .Should().Throw<ArgumentOutOfRangeException>().WithParameterName("Wv").WithMessage("*Wv[2]*65504*");
    }
}
