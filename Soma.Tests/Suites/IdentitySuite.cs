using Soma;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>The spec's identities: with the window covering the sequence and alpha = 0, Soma is standard causal GQA attention.</summary>
public abstract class IdentitySuite
{
    protected IdentitySuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    [Theory]
    [InlineData(4, 4, false, 13, 16)] // MHA
    [InlineData(4, 2, true, 13, 16)]  // GQA with RoPE
    [InlineData(6, 1, true, 11, 11)]  // MQA, W == n exactly
    [InlineData(3, 3, false, 9, 40)]  // odd head count, W >> n
    public void IncludeCurrent_WindowCoversSequence_AlphaZero_EqualsCausalAttentionAtEveryToken(int heads, int kvHeads, bool rope, int n, int window)
    {
        var o = new SomaLayerOptions(19, heads, kvHeads, 6, window, includeCurrent: true, ropeTheta: rope ? 10000.0 : null);
        var w = TestData.Weights(o, seed: heads * 10 + kvHeads, biases: true, alpha: 0f);
        var x = TestData.Inputs(o.ModelDim, n, seed: 3);
        using var layer = Engine.CreateLayer(o, w);
        using var session = layer.CreateSession();

        var y = session.Prefill(x);

        var expected = CausalAttentionReference.Run(o, w, x, includeDiagonal: true);
        Tolerance.ShouldMatch(y, expected, "y (t = 0 included)");
    }

    [Theory]
    [InlineData(4, 2, true)]
    [InlineData(4, 4, false)]
    public void Exclusive_WindowCoversSequence_AlphaZero_FirstTokenIsBiasAndLaterTokensExcludeTheDiagonal(int heads, int kvHeads, bool rope)
    {
        const int n = 12;
        var o = new SomaLayerOptions(17, heads, kvHeads, 8, window: n, includeCurrent: false, ropeTheta: rope ? 500.0 : null);
        var w = TestData.Weights(o, seed: 5, biases: true, alpha: 0f);
        var x = TestData.Inputs(o.ModelDim, n, seed: 6);
        using var layer = Engine.CreateLayer(o, w);
        using var session = layer.CreateSession();

        var y = session.Prefill(x);

        // t = 0 attends to nothing: y = bo exactly (the field is zero too).
        y.AsSpan(0, o.ModelDim).ToArray().Should().Equal(w.Bo!, "token 0 sees no key in exclusive mode");
        var expected = CausalAttentionReference.Run(o, w, x, includeDiagonal: false);
        Tolerance.ShouldMatch(y, expected, "y");
    }

    [Fact]
    public void Decode_WindowCoversSequence_AlphaZero_EqualsCausalAttention()
    {
        var o = new SomaLayerOptions(16, 4, 2, 4, window: 10, ropeTheta: 10000.0);
        var w = TestData.Weights(o, seed: 8, alpha: 0f);
        var x = TestData.Inputs(o.ModelDim, 10, seed: 9);
        using var layer = Engine.CreateLayer(o, w);
        using var session = layer.CreateSession();

        var y = new float[x.Length];
        for (int t = 0; t < 10; t++)
        {
            session.Decode(x.AsSpan(t * o.ModelDim, o.ModelDim)).CopyTo(y, t * o.ModelDim);
        }

        Tolerance.ShouldMatch(y, CausalAttentionReference.Run(o, w, x, includeDiagonal: true), "y");
    }
}
