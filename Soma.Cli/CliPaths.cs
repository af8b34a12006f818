namespace Soma.Cli;

/// <summary>Checks of the paths options name, before anything reads or writes them: errors say which option and what was expected.</summary>
internal static class CliPaths
{
    /// <summary>An existing file for <paramref name="option"/>; <paramref name="expected"/> words what it should be ("a .npy file").</summary>
    public static string ExistingFile(string option, string path, string expected)
    {
        if (Directory.Exists(path))
        {
            throw new CliException($"{option} {path} is a directory; expected {expected}.");
        }

        if (!File.Exists(path))
        {
            throw new CliException($"{option} {path} does not exist; expected {expected}.");
        }

        return path;
    }

    /// <summary>A file <paramref name="option"/> will write: not a directory.</summary>
    public static string NewFile(string option, string path, string expected) =>
        Directory.Exists(path) ? throw new CliException($"{option} {path} is a directory; expected {expected}.") : path;

    /// <summary>A folder for <paramref name="option"/>: not a file (what a missing folder lacks, its reader says).</summary>
    public static string Folder(string option, string path, string expected) =>
        File.Exists(path) ? throw new CliException($"{option} {path} is a file; expected {expected}.") : path;
}
