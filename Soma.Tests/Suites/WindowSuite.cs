using Soma;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// The window boundary, checked against attention over explicitly listed positions (not the reference's ring):
/// include-current sees [t - W + 1, t] (W keys with the current one), exclusive sees [t - W, t - 1].
/// </summary>
public abstract class WindowSuite
{
    protected WindowSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(true, 4)]
    [InlineData(false, 1)]
    [InlineData(false, 4)]
    public void NearField_AtTokensWMinus1_W_WPlus1_SeesExactlyTheWindow(bool includeCurrent, int window)
    {
        int n = window + 3;
        var o = new SomaLayerOptions(12, 2, 1, 4, window, includeCurrent, ropeTheta: 10000.0);
        var w = TestData.Weights(o, seed: 21, alpha: 0f);
        var x = TestData.Inputs(o.ModelDim, n, seed: 22, amplitude: 2.0);
        using var layer = Engine.CreateLayer(o, w);
        using var session = layer.CreateSession();

        var y = session.Prefill(x);

        var tokens = Enumerable.Range(0, n).Select(t => ReferenceMath.Project(o, w, x.AsSpan(t * o.ModelDim, o.ModelDim), t)).ToArray();
        foreach (int t in new[] { window - 1, window, window + 1 })
        {
            int hi = includeCurrent ? t : t - 1;
            int lo = Math.Max(0, hi - window + 1);
            var oVec = new double[o.Heads * o.HeadDim];
            for (int h = 0; h < o.Heads; h++)
            {
                int g = h / o.HeadsPerKvHead;
                var keys = new List<double[]>();
                var values = new List<double[]>();
                for (int j = lo; j <= hi; j++)
                {
                    keys.Add(tokens[j].KRotated.AsSpan(g * o.HeadDim, o.HeadDim).ToArray());
                    values.Add(tokens[j].V.AsSpan(g * o.HeadDim, o.HeadDim).ToArray());
                }

                ReferenceMath.Attend(tokens[t].Q.AsSpan(h * o.HeadDim, o.HeadDim), keys, values, o.Scale).CopyTo(oVec, h * o.HeadDim);
            }

            var expected = ReferenceMath.Output(o, w, oVec);
            Tolerance.ShouldMatch(y.AsSpan(t * o.ModelDim, o.ModelDim), expected, $"y[t={t}] (window [{lo}, {hi}])");
        }
    }
}
