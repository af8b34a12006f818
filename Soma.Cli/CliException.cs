namespace Soma.Cli;

/// <summary>A failure already worded for the command line (it names the option it came from); printed as is.</summary>
internal sealed class CliException : Exception
{
    public CliException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
