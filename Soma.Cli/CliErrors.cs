using System.Text.RegularExpressions;

namespace Soma.Cli;

/// <summary>
/// Exit codes and the one-line error form: every failure, expected or not, becomes one `error: ...` line on stderr
/// and exit code 2 (1 only for a failed check). The stack trace of an unexpected failure (a bug) is printed only on
/// request: `--verbose` or the environment variable SOMA_DEBUG=1.
/// </summary>
internal static partial class CliErrors
{
    public const int Success = 0;
    public const int CheckFailed = 1;
    public const int UsageError = 2;

    public const string ExitCodes = "exit codes: 0 success, 1 a check failed (verify), 2 bad arguments, files or no such accelerator.";

    /// <summary>The environment variable that, set to 1 (or true), prints an unexpected failure's stack trace.</summary>
    public const string DebugVariable = "SOMA_DEBUG";

    public const string VerboseHelp =
        "After an unexpected error (a bug, reported as `error: unexpected TYPE: ...`), print its stack trace too; same as " + DebugVariable + "=1.";

    /// <summary>True when <see cref="DebugVariable"/> asks for stack traces.</summary>
    public static bool DebugRequested() =>
        Environment.GetEnvironmentVariable(DebugVariable) is { } v && (v == "1" || v.Equals("true", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Runs <paramref name="body"/>; any exception becomes one `error:` line on <paramref name="error"/> and exit code 2.
    /// An unexpected exception type is named in that line; its stack trace follows only when <paramref name="verbose"/>.
    /// </summary>
    public static int Guarded(TextWriter error, Func<int> body, bool verbose = false)
    {
        try
        {
            return body();
        }
        catch (Exception ex)
        {
            return Report(error, ex, verbose);
        }
    }

    /// <summary>Writes <paramref name="ex"/> as one `error:` line (and, if <paramref name="verbose"/> and unexpected, its stack trace); returns 2.</summary>
    public static int Report(TextWriter error, Exception ex, bool verbose)
    {
        ex = Unwrap(ex);
        if (IsExpected(ex))
        {
            error.WriteLine($"error: {OneLine(ex)}");
            return UsageError;
        }

        error.WriteLine($"error: unexpected {ex.GetType().Name}: {OneLine(ex)}" +
            (verbose ? "" : $" (a bug in soma; --verbose or {DebugVariable}=1 prints the stack trace)"));
        if (verbose)
        {
            error.WriteLine(ex.ToString());
        }

        return UsageError;
    }

    /// <summary>
    /// Failures a user can meet with their own arguments, files, machine or memory: reported by message alone.
    /// Anything else is reported with its type name.
    /// </summary>
    public static bool IsExpected(Exception ex) => ex is CliException or ArgumentException or FormatException or InvalidOperationException
        or InvalidDataException or IOException or KeyNotFoundException or UnauthorizedAccessException
        or System.Text.Json.JsonException or NotSupportedException or OverflowException or OutOfMemoryException
        or OperationCanceledException;

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

        message = ex switch
        {
            // .NET's own texts say what happened, not where: say it in words a user can act on.
            OverflowException when message.StartsWith("Arithmetic operation resulted in an overflow", StringComparison.Ordinal) =>
                "a size or count is too large to compute (arithmetic overflow)",
            OutOfMemoryException => $"not enough memory ({message.TrimEnd('.')})",
            _ => message,
        };
        return string.Join(' ', message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>
    /// Runs <paramref name="body"/>; a failure of a kind <see cref="IsExpected"/> comes back as one message that
    /// starts with <paramref name="option"/> (the option whose value caused it) and names <paramref name="value"/>
    /// (the file) where the message does not already.
    /// </summary>
    public static T About<T>(string option, Func<T> body, string? value = null)
    {
        try
        {
            return body();
        }
        catch (Exception ex) when (IsExpected(Unwrap(ex)))
        {
            string message = OneLine(Unwrap(ex));
            throw new CliException(
                message.StartsWith(option, StringComparison.Ordinal) ? message
                : value is not null && !message.Contains(value, StringComparison.Ordinal) ? $"{option} {value}: {message}"
                : $"{option}: {message}",
                ex);
        }
    }

    /// <summary><see cref="About{T}"/> for a body that returns nothing (a write).</summary>
    public static void About(string option, Action body, string? value = null) => About(option, () =>
    {
        body();
        return 0;
    }, value);

    /// <summary>System.CommandLine's parse error, with plain type names: "--layer 'abc': expected an integer".</summary>
    public static string ParseError(string message)
    {
        var m = CannotParse().Match(message);
        if (!m.Success)
        {
            return message;
        }

        string type = m.Groups["type"].Value;
        string expected = type switch
        {
            _ when type.Contains("Int32", StringComparison.Ordinal) || type.Contains("Int64", StringComparison.Ordinal) => "an integer",
            _ when type.Contains("Boolean", StringComparison.Ordinal) => "true or false",
            _ when type.Contains("Double", StringComparison.Ordinal) || type.Contains("Single", StringComparison.Ordinal) => "a number",
            _ => "a " + type[(type.LastIndexOf('.') + 1)..].TrimEnd(']'),
        };
        return $"{m.Groups["option"].Value} '{m.Groups["value"].Value}': expected {expected}";
    }

    private static Exception Unwrap(Exception ex) => ex switch
    {
        AggregateException { InnerExceptions.Count: 1 } a => Unwrap(a.InnerExceptions[0]),
        System.Reflection.TargetInvocationException { InnerException: { } inner } => Unwrap(inner),
        _ => ex,
    };

    [GeneratedRegex("^Cannot parse argument '(?<value>.*)' for option '(?<option>[^']+)' as expected type '(?<type>[^']+)'")]
    private static partial Regex CannotParse();
}
