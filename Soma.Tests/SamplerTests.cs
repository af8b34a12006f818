using Soma;

namespace Soma.Tests;

/// <summary>Greedy, temperature, top-k and top-p choices of <see cref="SomaSampler"/>.</summary>
public sealed class SamplerTests
{
    private static readonly float[] Logits = [0.5f, 2.0f, -1.0f, 1.9f, 0.0f];

    [Fact]
    public void Greedy_TopK1_AndTinyTopP_PickTheArgmax()
    {
        new SomaSampler(new SamplingOptions()).Sample(Logits).Should().Be(1);
        new SomaSampler(new SamplingOptions(temperature: 5, topK: 1, seed: 3)).Sample(Logits).Should().Be(1);
        new SomaSampler(new SamplingOptions(temperature: 5, topP: 0.01, seed: 3)).Sample(Logits).Should().Be(1);
    }

    [Fact]
    public void Sampling_IsSeeded_AndStaysInsideTopK()
    {
        int[] Draw(int seed)
        {
            var sampler = new SomaSampler(new SamplingOptions(temperature: 2, topK: 2, seed: seed));
            return Enumerable.Range(0, 200).Select(_ => sampler.Sample(Logits)).ToArray();
        }

        var first = Draw(5);
        first.Should().Equal(Draw(5), "the same seed draws the same tokens");
        first.Should().OnlyContain(t => t == 1 || t == 3).And.Contain(1).And.Contain(3);
    }

    [Fact]
    public void BadOptions_NameTheArgument()
    {
        FluentActions.Invoking(() => new SamplingOptions(temperature: -1)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("temperature");
        FluentActions.Invoking(() => new SamplingOptions(topP: 0)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("topP");
        FluentActions.Invoking(() => new SamplingOptions(topK: -2)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("topK");
    }
}
