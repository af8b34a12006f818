namespace Soma.Cli.Bench;

/// <summary>Error statistics of an output against the reference.</summary>
internal readonly record struct Comparison(double MaxAbsError, double RelativeMaxError, double MeanAbsError, double Cosine)
{
    public static Comparison Of(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        if (actual.Length != expected.Length)
        {
            throw new ArgumentException($"Lengths differ: {actual.Length} vs {expected.Length}.", nameof(actual));
        }

        double maxErr = 0, sumErr = 0, maxRef = 0, dot = 0, na = 0, nb = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double a = actual[i];
            double b = expected[i];
            double e = Math.Abs(a - b);
            maxErr = Math.Max(maxErr, e);
            sumErr += e;
            maxRef = Math.Max(maxRef, Math.Abs(b));
            dot += a * b;
            na += a * a;
            nb += b * b;
        }

        double cos = na == 0 && nb == 0 ? 1.0 : dot / Math.Sqrt(na * nb);
        return new Comparison(maxErr, maxRef > 0 ? maxErr / maxRef : maxErr, sumErr / Math.Max(1, actual.Length), cos);
    }

    public override string ToString() =>
        $"max|err| {MaxAbsError:E2} (relative to max|y| {RelativeMaxError:E2}), mean|err| {MeanAbsError:E2}, cosine {Cosine:F9}";
}
