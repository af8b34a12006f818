namespace Soma.Internal;

/// <summary>The names the fault-injection hook receives for each <see cref="Stage"/> (stable: tests match them).</summary>
internal static class StageNames
{
    private static readonly string[] Names = { "upload", "rope", "qkv", "scan", "attention", "output", "download", "commit", "committed" };

    /// <summary>The lower-case name of <paramref name="stage"/>, without allocating.</summary>
    public static string Of(Stage stage) => Names[(int)stage];
}
