using Soma;

namespace Soma.Tests;

/// <summary>
/// 10^5 decode steps on one session with gamma near 1 stay finite and bounded: the field is a convex combination of
/// keys, so |S| never exceeds the largest |k| seen. A tiny layer on its own CPU engine keeps it to under a minute.
/// </summary>
public sealed class LongRunTests
{
    [Fact]
    public void HundredThousandDecodeSteps_WithGammaNearOne_StayFiniteAndBounded()
    {
        var o = new SomaLayerOptions(4, 1, 1, 2, window: 2, ropeTheta: 10000.0);
        var w = SomaLayerWeights.CreateRandom(o, seed: 130, alpha: 1f);
        Array.Fill(w.Gamma, 0.9999f);
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu));
        using var layer = engine.CreateLayer(o, w);
        using var session = layer.CreateSession();
        var x = new float[] { 0.5f, -1f, 2f, 0.25f };
        var y = new float[o.ModelDim];
        double maxK = 0;
        for (int r = 0; r < o.KvHeads * o.HeadDim; r++)
        {
            double k = 0;
            for (int c = 0; c < o.ModelDim; c++)
            {
                k += w.Wk[r * o.ModelDim + c] * x[c];
            }

            maxK = Math.Max(maxK, Math.Abs(k));
        }

        for (int step = 0; step < 100_000; step++)
        {
            session.Decode(x, y);
            if (step % 10_000 == 0 || step == 99_999)
            {
                y.Should().OnlyContain(v => float.IsFinite(v), $"y stays finite at step {step}");
            }
        }

        session.Position.Should().Be(100_000);
        session.DownloadState().Field.Should().OnlyContain(s => double.IsFinite(s) && Math.Abs(s) <= maxK * (1 + 1e-4));
    }
}
