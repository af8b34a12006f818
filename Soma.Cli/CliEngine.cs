using Soma;

namespace Soma.Cli;

/// <summary>The engine for `--accelerator NAME`; when that accelerator is absent the error says what to do next.</summary>
internal static class CliEngine
{
    /// <summary>An engine on <paramref name="kind"/>; none present is an error that points to `soma devices` and `--accelerator cpu`.</summary>
    public static SomaEngine Create(SomaAcceleratorKind kind)
    {
        try
        {
            return SomaEngine.Create(new SomaEngineOptions(kind));
        }
        catch (Exception ex) when (CliErrors.IsExpected(ex))
        {
            throw new CliException(
                $"--accelerator {kind.ToString().ToLowerInvariant()}: {CliErrors.OneLine(ex)} " +
                "Run `soma devices` to see the accelerators present, or use --accelerator cpu.", ex);
        }
    }
}
