using Soma;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>The standard-attention baseline the benchmarks compare against: causal GQA attention over a KV cache.</summary>
public abstract class StandardAttentionSuite
{
    protected StandardAttentionSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    [Theory]
    [InlineData(true, 4, 2, true)]
    [InlineData(false, 3, 1, false)]
    [InlineData(true, 2, 2, false)]
    public void PrefillChunksAndDecode_EqualCausalAttentionReference(bool includeCurrent, int heads, int kvHeads, bool rope)
    {
        // Window 2 and a random alpha prove the baseline ignores both; maxChunkTokens 8 makes prefill multi-pass.
        var o = new SomaLayerOptions(15, heads, kvHeads, 6, window: 2, includeCurrent, ropeTheta: rope ? 10000.0 : null, maxChunkTokens: 8);
        var w = TestData.Weights(o, seed: 60 + heads, biases: true);
        const int n = 30;
        var x = TestData.Inputs(o.ModelDim, n, seed: 61);
        using var layer = Engine.CreateStandardAttentionLayer(o, w, kvCapacity: 40);
        using var session = layer.CreateSession();

        var y = new List<float>(session.Prefill(x.AsSpan(0, 19 * o.ModelDim)));
        y.AddRange(session.Prefill(x.AsSpan(19 * o.ModelDim, 7 * o.ModelDim)));
        for (int t = 26; t < n; t++)
        {
            y.AddRange(session.Decode(x.AsSpan(t * o.ModelDim, o.ModelDim)));
        }

        layer.IsStandardAttention.Should().BeTrue();
        Tolerance.ShouldMatch(y.ToArray(), CausalAttentionReference.Run(o, w, x, includeDiagonal: includeCurrent), "y");
    }

    [Fact]
    public void KvCacheFull_ThrowsClearly_AndLeavesTheSessionAsItWas()
    {
        var o = new SomaLayerOptions(8, 2, 1, 4, window: 4);
        var w = TestData.Weights(o, seed: 62);
        using var layer = Engine.CreateStandardAttentionLayer(o, w, kvCapacity: 6);
        using var session = layer.CreateSession();
        var x = TestData.Inputs(o.ModelDim, 7, seed: 63);
        session.Prefill(x.AsSpan(0, 5 * o.ModelDim));
        var before = session.DownloadState();

        Action overflow = () => session.Prefill(x.AsSpan(0, 2 * o.ModelDim));

        overflow.Should().Throw<InvalidOperationException>().WithMessage("*KV cache is full*5 of 6*adds 2*");
        session.Position.Should().Be(5);
        session.DownloadState().RingK.Should().Equal(before.RingK);
        session.Decode(x.AsSpan(5 * o.ModelDim, o.ModelDim)).Should().HaveCount(o.ModelDim);
        session.StateBytes.Should().Be(2L * 6 * 1 * 4 * sizeof(float));
    }

    [Fact]
    public void DecodeBatch_OfSessionsWithDifferentHistories_EqualsEachAlone()
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 1, ropeTheta: 10000.0);
        var w = TestData.Weights(o, seed: 64);
        using var layer = Engine.CreateStandardAttentionLayer(o, w, kvCapacity: 32);
        using var pool = layer.CreatePool(3);
        var sessions = new[] { pool.OpenSession(), pool.OpenSession(), pool.OpenSession() };
        int[] history = { 1, 9, 20 };
        var prompts = history.Select((h, i) => TestData.Inputs(o.ModelDim, h, seed: 70 + i)).ToArray();
        for (int i = 0; i < 3; i++)
        {
            sessions[i].Prefill(prompts[i]);
        }

        var x = TestData.Inputs(o.ModelDim, 3, seed: 80);
        var y = layer.DecodeBatch(sessions, x);

        for (int i = 0; i < 3; i++)
        {
            var all = prompts[i].Concat(x.AsSpan(i * o.ModelDim, o.ModelDim).ToArray()).ToArray();
            var expected = CausalAttentionReference.Run(o, w, all, includeDiagonal: true);
            Tolerance.ShouldMatch(y.AsSpan(i * o.ModelDim, o.ModelDim), expected.AsSpan(history[i] * o.ModelDim), $"session {i}");
        }
    }
}
