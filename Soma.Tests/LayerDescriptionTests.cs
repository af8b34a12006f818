using Soma;
using Soma.IO;
using Soma.Tests.Infrastructure;

namespace Soma.Tests;

/// <summary>Layer options and weights on the host: the one RoPE default, and weights built by name.</summary>
public sealed class LayerDescriptionTests
{
    [Fact]
    public void RoPE_IsOnByDefault_AtTheThetaTheCheckpointPathUses_AndNullTurnsItOff()
    {
        SomaLayerOptions.DefaultRopeTheta.Should().Be(SomaParameters.DefaultRopeTheta, "the library and the soma tool share one default");
        new SomaLayerOptions(12, 4, 2, 4, window: 3).RopeTheta.Should().Be(10000.0);
        new SomaLayerOptions(12, 4, 2, 4, window: 3, ropeTheta: null).RopeTheta.Should().BeNull();
        new SomaParameters().Rope.Should().BeNull("unset in soma.json means on, with the model's rope_theta");
        new SomaLayerOptions(12, 4, 2, 5, window: 3, ropeTheta: null).HeadDim.Should().Be(5, "an odd head dimension is fine without RoPE");

        Action oddWithDefault = () => _ = new SomaLayerOptions(12, 4, 2, 5, window: 3);
        oddWithDefault.Should().Throw<ArgumentException>().WithParameterName("headDim").WithMessage("*even*RoPE is on by default*ropeTheta: null*");
    }

    [Fact]
    public void NamedWeights_HoldWhatTheirNamesSay_AndEqualThePositionalForm()
    {
        var o = new SomaLayerOptions(12, 2, 2, 4, window: 3); // H == Hkv: gamma and alpha have the same length
        var r = SomaLayerWeights.CreateRandom(o, seed: 351, biases: true);

        var named = new SomaLayerWeights { Alpha = r.Alpha, Gamma = r.Gamma, Wo = r.Wo, Wv = r.Wv, Wk = r.Wk, Wq = r.Wq, Bv = r.Bv };
        var positional = new SomaLayerWeights(r.Wq, r.Wk, r.Wv, r.Wo, r.Gamma, r.Alpha, bv: r.Bv);

        named.Validate(o);
        foreach (var p in typeof(SomaLayerWeights).GetProperties())
        {
            if (p.PropertyType.IsValueType)
            {
                p.GetValue(named).Should().Be(p.GetValue(positional), p.Name); // ProjectionType: Float32 for both
            }
            else
            {
                p.GetValue(named).Should().BeSameAs(p.GetValue(positional), p.Name);
            }
        }

        named.Gamma.Should().BeSameAs(r.Gamma);
        named.Alpha.Should().BeSameAs(r.Alpha);
        named.Bq.Should().BeNull();
    }

    [Theory]
    [InlineData("Wq")]
    [InlineData("Wk")]
    [InlineData("Wv")]
    [InlineData("Wo")]
    [InlineData("Gamma")]
    [InlineData("Alpha")]
    public void TheSixArrays_AreRequiredMembers(string name) =>
        typeof(SomaLayerWeights).GetProperty(name)!.CustomAttributes
            .Should().Contain(a => a.AttributeType.FullName == "System.Runtime.CompilerServices.RequiredMemberAttribute");

    [Fact]
    public void Validate_NamesTheMemberAndItsExpectedLength()
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 3);
        var r = TestData.Weights(o, seed: 352);

        Action nullWv = () => new SomaLayerWeights { Wq = r.Wq, Wk = r.Wk, Wv = null!, Wo = r.Wo, Gamma = r.Gamma, Alpha = r.Alpha }.Validate(o);
        Action alphaForGamma = () => new SomaLayerWeights { Wq = r.Wq, Wk = r.Wk, Wv = r.Wv, Wo = r.Wo, Gamma = r.Alpha, Alpha = r.Alpha }.Validate(o);
        Action shortBo = () => new SomaLayerWeights { Wq = r.Wq, Wk = r.Wk, Wv = r.Wv, Wo = r.Wo, Gamma = r.Gamma, Alpha = r.Alpha, Bo = new float[11] }.Validate(o);

        nullWv.Should().Throw<ArgumentNullException>().WithParameterName("Wv").WithMessage("Wv is null; expected 96 floats ([Hkv*dh=8, D=12])*");
        alphaForGamma.Should().Throw<ArgumentException>().WithParameterName("Gamma").WithMessage("Gamma has 4 elements; expected 2 ([Hkv=2])*");
        shortBo.Should().Throw<ArgumentException>().WithParameterName("Bo").WithMessage("Bo has 11 elements; expected 12 ([D=12])*");
    }
}
