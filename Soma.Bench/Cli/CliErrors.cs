namespace Soma.Bench.Cli;

/// <summary>Exit codes and the one-line error form for user mistakes (never a stack trace).</summary>
internal static class CliErrors
{
    public const int Success = 0;
    public const int CheckFailed = 1;
    public const int UsageError = 2;

    public const string ExitCodes = "exit codes: 0 success, 1 a check failed (verify), 2 bad arguments, files or no such accelerator.";

    /// <summary>Runs <paramref name="body"/>; a user mistake becomes `error: message` on stderr and exit code 2.</summary>
    public static int Guarded(TextWriter error, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException
            or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or KeyNotFoundException
            or UnauthorizedAccessException or System.Text.Json.JsonException or NotSupportedException)
        {
            error.WriteLine($"error: {OneLine(ex)}");
            return UsageError;
        }
    }

    /// <summary>The message on one line: without the " (Parameter 'x')" suffix .NET adds, the actual value folded in.</summary>
    public static string OneLine(Exception ex)
    {
        string message = ex.Message;
        if (ex is ArgumentException { ParamName: { } name })
        {
            message = message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal);
        }

        if (ex is ArgumentOutOfRangeException { ActualValue: { } actual })
        {
            string first = message.Split('\n')[0].TrimEnd();
            message = first.Contains(actual.ToString() ?? "", StringComparison.Ordinal) ? first : first + $" (got {actual})";
        }

        return string.Join(' ', message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
    }
}
