using Soma;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>Batched prefill of prompts of different lengths, scheduled in passes of bounded size, equals one-by-one prefill.</summary>
public abstract class BatchSuite
{
    protected BatchSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    private static SomaLayerOptions Shape() => new(12, 4, 2, 6, window: 4, ropeTheta: 10000.0, maxChunkTokens: 5);

    [Fact]
    public void PrefillBatch_OfVariableLengths_InBoundedPasses_EqualsOneByOne_AndLargeDecodeBatchesToo()
    {
        var o = Shape();
        var w = TestData.Weights(o, seed: 110, biases: true);
        int d = o.ModelDim;
        int[] lengths = { 0, 3, 11, 1, 7, 2 };
        var x = TestData.Inputs(d, lengths.Sum(), seed: 111);
        using var layer = Engine.CreateLayer(o, w);
        using var pool = layer.CreatePool(lengths.Length);
        var batch = lengths.Select(_ => pool.OpenSession()).ToArray();
        var alone = lengths.Select(_ => layer.CreateSession()).ToArray();
        try
        {
            var y = layer.PrefillBatch(batch, lengths, x);

            for (int s = 0, row = 0; s < lengths.Length; row += lengths[s], s++)
            {
                var ySingle = alone[s].Prefill(x.AsSpan(row * d, lengths[s] * d));
                Tolerance.ShouldMatch(y.AsSpan(row * d, lengths[s] * d), ySingle, $"session {s} ({lengths[s]} tokens)");
                batch[s].Position.Should().Be(lengths[s]);
            }

            // Six sessions, passes of at most five rows: the decode batch itself is split.
            var step = TestData.Inputs(d, lengths.Length, seed: 112);
            var yStep = layer.DecodeBatch(batch, step);
            for (int s = 0; s < lengths.Length; s++)
            {
                Tolerance.ShouldMatch(yStep.AsSpan(s * d, d), alone[s].Decode(step.AsSpan(s * d, d)), $"decode of session {s}");
                ConsistencySuite.StatesShouldMatch(batch[s], alone[s]);
            }
        }
        finally
        {
            foreach (var s in alone)
            {
                s.Dispose();
            }
        }
    }

    [Fact]
    public void AFaultInALaterPass_RestoresEverySessionOfTheBatch()
    {
        var o = Shape();
        var w = TestData.Weights(o, seed: 113);
        int d = o.ModelDim;
        using var layer = Engine.CreateLayer(o, w);
        using var pool = layer.CreatePool(3);
        var sessions = new[] { pool.OpenSession(), pool.OpenSession(), pool.OpenSession() };
        layer.PrefillBatch(sessions, new[] { 2, 3, 4 }, TestData.Inputs(d, 9, seed: 114));
        var before = sessions.Select(s => s.DownloadState()).ToArray();
        int passes = 0;
        layer.BeforeStage = stage =>
        {
            if (stage == "commit" && ++passes == 2)
            {
                throw new InvalidOperationException("injected fault");
            }
        };

        Action call = () => layer.PrefillBatch(sessions, new[] { 4, 1, 6 }, TestData.Inputs(d, 11, seed: 115));

        call.Should().Throw<InvalidOperationException>().WithMessage("injected fault");
        layer.BeforeStage = null;
        for (int s = 0; s < 3; s++)
        {
            sessions[s].Position.Should().Be(new[] { 2, 3, 4 }[s]);
            var after = sessions[s].DownloadState();
            after.RingK.Should().Equal(before[s].RingK);
            after.RingV.Should().Equal(before[s].RingV);
            after.Field.Should().Equal(before[s].Field);
        }
    }

    [Fact]
    public void PrefillBatch_RejectsBadLengths()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 116));
        using var pool = layer.CreatePool(2);
        var sessions = new[] { pool.OpenSession(), pool.OpenSession() };

        Action wrongCount = () => layer.PrefillBatch(sessions, new[] { 1 }, new float[o.ModelDim]);
        Action negative = () => layer.PrefillBatch(sessions, new[] { 2, -1 }, new float[o.ModelDim]);
        Action wrongX = () => layer.PrefillBatch(sessions, new[] { 1, 1 }, new float[o.ModelDim]);

        wrongCount.Should().Throw<ArgumentException>().WithParameterName("lengths").WithMessage("*one per session (2)*");
        negative.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("lengths").WithMessage("*lengths[1] is -1*");
        wrongX.Should().Throw<ArgumentException>().WithParameterName("x").WithMessage("*[sum(lengths)=2, D=12]*");
    }
}
