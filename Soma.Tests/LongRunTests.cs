using Soma;
using Soma.Reference;
using Soma.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Soma.Tests;

/// <summary>
/// Long conversations on one session with gamma = 0.99999 (the field remembers about 10^5 tokens), step by step
/// against the double reference: the fp64 field keeps every output within 1e-6 relative, where the fp32 field of
/// earlier versions drifted past it within 10^4 steps (docs/semantics.md, "Precision of the far field"). A tiny
/// layer on its own CPU engine keeps 10^5 steps to minutes; 10^6 steps are opt-in (<see cref="LongFactAttribute"/>).
/// </summary>
public sealed class LongRunTests(ITestOutputHelper output)
{
    /// <summary>Largest |y - reference| / max(1, max|reference|) allowed at any step.</summary>
    private const double Bound = 1e-6;

    [Fact]
    public void HundredThousandDecodeSteps_WithGammaNearOne_StayWithin1e6OfTheDoubleReference() => DecodeAgainstReference(100_000);

    [LongFact]
    public void MillionDecodeSteps_WithGammaNearOne_StayWithin1e6OfTheDoubleReference_OptInWithSomaLongTests() =>
        DecodeAgainstReference(1_000_000);

    private void DecodeAgainstReference(int steps)
    {
        var o = new SomaLayerOptions(4, 1, 1, 2, window: 2, ropeTheta: 10000.0);
        var w = SomaLayerWeights.CreateRandom(o, seed: 130, alpha: 1f);
        Array.Fill(w.Gamma, 0.99999f);
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu));
        using var layer = engine.CreateLayer(o, w);
        using var session = layer.CreateSession();
        var reference = new SomaReference(o, w);
        var state = reference.CreateState();

        // One token repeated: S settles on its k, and the fp32 rounding of each small increment (1 - gamma)(k - S)
        // went the same way step after step (the worst case for the fp32 field of earlier versions).
        var x = new float[] { 0.5f, -1f, 2f, 0.25f };
        var y = new float[o.ModelDim];
        double worst = 0;
        int worstStep = -1;
        for (int step = 0; step < steps; step++)
        {
            session.Decode(x, y);
            double error = RelativeError(y, reference.Step(state, x));
            if (error > worst)
            {
                (worst, worstStep) = (error, step);
            }

            if (step + 1 is 1_000 or 10_000 or 50_000 or 100_000 or 500_000 or 1_000_000)
            {
                output.WriteLine($"{step + 1} steps: largest relative error so far {worst:E2} (step {worstStep}), this step {error:E2}");
            }
        }

        session.Position.Should().Be(steps);
        worst.Should().BeLessThanOrEqualTo(Bound, $"every output stays within {Bound:E0} of the reference (worst at step {worstStep})");
        Tolerance.ShouldMatch(session.DownloadState().Field, state.Field, $"field S after {steps} steps", Bound);
    }

    /// <summary>max |actual - expected| / max(1, max |expected|), the measure <see cref="Tolerance"/> bounds.</summary>
    private static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        double scale = 1, error = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            scale = Math.Max(scale, Math.Abs(expected[i]));
            error = Math.Max(error, Math.Abs(actual[i] - expected[i]));
        }

        return double.IsFinite(error) ? error / scale : double.PositiveInfinity;
    }
}
