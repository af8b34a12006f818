namespace Soma.Tests.Infrastructure;

/// <summary>
/// A fact that runs only when the environment variable <see cref="Variable"/> is 1: tests that take minutes and
/// stay out of the everyday suite. Skipped otherwise, with the reason saying how to run it.
/// </summary>
public sealed class LongFactAttribute : FactAttribute
{
    /// <summary>The environment variable that opts in.</summary>
    public const string Variable = "SOMA_LONG_TESTS";

    /// <summary>Skips the test unless <see cref="Variable"/> is 1.</summary>
    public LongFactAttribute()
    {
        if (Environment.GetEnvironmentVariable(Variable) != "1")
        {
            Skip = $"Long test (minutes): set {Variable}=1 to run it.";
        }
    }
}
