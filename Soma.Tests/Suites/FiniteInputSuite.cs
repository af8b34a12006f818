using Soma;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// <see cref="SomaEngineOptions.CheckFiniteInputs"/> off: a NaN input is not refused, and what it does is confined to
/// the session fed it: a wrong (finite) output for that token, NaN outputs after it, NaN in its ring until the token
/// leaves the window, NaN in its field until Reset; other sessions, even those batched with it, keep the reference's
/// numbers.
/// </summary>
public abstract class FiniteInputSuite
{
    protected FiniteInputSuite(AcceleratorFixture fixture) => Kind = fixture.Kind;

    protected SomaAcceleratorKind Kind { get; }

    [Fact]
    public void WithTheCheckOff_ANaNPoisonsOnlyItsSession_RingForWTokens_FieldUntilReset()
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 3);
        int d = o.ModelDim;
        var w = TestData.Weights(o, seed: 331, biases: true);
        var reference = new SomaReference(o, w);
        using var engine = SomaEngine.Create(new SomaEngineOptions(Kind) { CheckFiniteInputs = false });
        using var layer = engine.CreateLayer(o, w);
        using var pool = layer.CreatePool(2);
        var poisoned = pool.OpenSession();
        var healthy = pool.OpenSession();
        var healthyState = reference.CreateState();

        // One prefill of both: the poisoned session's second row holds a NaN.
        var x = TestData.Inputs(d, 4, seed: 332);
        x[d + 5] = float.NaN;
        var y = layer.PrefillBatch(new[] { poisoned, healthy }, new[] { 2, 2 }, x);
        Tolerance.ShouldMatch(y.AsSpan(0, d), reference.Run(reference.CreateState(), x.AsSpan(0, d)), "the row before the NaN");
        y.AsSpan(d, d).ToArray().Should().OnlyContain(
            v => float.IsFinite(v), "the NaN row's own output is finite but wrong: a NaN softmax sum reads as an empty window (near field 0)");
        Tolerance.ShouldMatch(y.AsSpan(2 * d), reference.Run(healthyState, x.AsSpan(2 * d)), "the healthy session's rows");
        poisoned.DownloadState().RingK.Should().Contain(v => float.IsNaN(v));

        // W + 2 more tokens in batches: the NaN leaves the ring after W, the field keeps it; the other session is fine.
        for (int t = 0; t < o.Window + 2; t++)
        {
            var step = TestData.Inputs(d, 2, seed: 333 + t);
            var ys = layer.DecodeBatch(new[] { poisoned, healthy }, step);
            ys.AsSpan(0, d).ToArray().Should().OnlyContain(v => float.IsNaN(v), $"step {t}: the poisoned session's output");
            Tolerance.ShouldMatch(ys.AsSpan(d), reference.Run(healthyState, step.AsSpan(d)), $"step {t}: the healthy session's row");
        }

        var (ringK, ringV, field) = poisoned.DownloadState();
        ringK.Concat(ringV).Should().OnlyContain(v => float.IsFinite(v), "the NaN token left the ring W tokens later");
        field.Should().OnlyContain(v => double.IsNaN(v), "the field keeps the NaN: gamma * NaN stays NaN");
        healthy.DownloadState().Field.Should().OnlyContain(v => double.IsFinite(v));

        // Reset clears it: the session then matches a fresh reference.
        poisoned.Reset();
        var fresh = TestData.Inputs(d, 3, seed: 340);
        Tolerance.ShouldMatch(poisoned.Prefill(fresh), reference.Run(reference.CreateState(), fresh), "the reset session");
    }
}
