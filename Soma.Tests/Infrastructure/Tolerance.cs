namespace Soma.Tests.Infrastructure;

/// <summary>
/// Comparisons against the double-precision reference, with tolerances scaled by the magnitude of the expected
/// values (fp32 kernels accumulate over D, W and dh terms).
/// </summary>
public static class Tolerance
{
    /// <summary>Relative tolerance for layer outputs: |actual - expected| &lt;= rel * max(1, max|expected|).</summary>
    public const double Output = 1e-4;

    public static void ShouldMatch(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, string what, double rel = Output) =>
        ShouldMatch(Array.ConvertAll(actual.ToArray(), v => (double)v), expected, what, rel);

    /// <summary>The same check for fp64 device values (the field state).</summary>
    public static void ShouldMatch(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected, string what, double rel = Output)
    {
        actual.Length.Should().Be(expected.Length, $"{what} has the reference's shape");
        double scale = 1.0;
        foreach (var e in expected)
        {
            scale = Math.Max(scale, Math.Abs(e));
        }

        double bound = rel * scale;
        for (int i = 0; i < actual.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            if (!(err <= bound))
            {
                throw new Xunit.Sdk.XunitException(
                    $"{what}[{i}] = {actual[i]:R}, expected {expected[i]:R}: |error| {err:E3} > {bound:E3} (rel {rel:E1} x scale {scale:G4}).");
            }
        }
    }

    public static void ShouldMatch(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, string what, double rel = Output)
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++)
        {
            e[i] = expected[i];
        }

        ShouldMatch(actual, e, what, rel);
    }
}
