using System.Globalization;
using Soma.Cli.Bench;
using Soma.IO;

namespace Soma.Cli;

/// <summary>
/// `--input` of `run` and `verify --model`: x [n, D] from a .npy file, or <c>random:N[:seed]</c>, N tokens made
/// without NumPy: each value uniform in [-1, 1), drawn row by row from .NET's <see cref="Random"/> with that seed
/// (0 when absent), the same values on every machine (<see cref="QuickRun.RandomInputs"/>).
/// </summary>
internal static class CliInput
{
    public const string Help = "x [n, D]: a .npy file (float32, float16 or float64, C order, D = hidden_size), or random:N[:seed] for N tokens " +
        "uniform in [-1, 1) from .NET's Random(seed), seed 0 when absent (no NumPy needed).";

    private const string Random = "random:";

    /// <summary>The rows of x for a model of width <paramref name="modelDim"/>, and how many tokens they are.</summary>
    public static (float[] X, int Tokens) Read(string spec, int modelDim)
    {
        if (spec.StartsWith(Random, StringComparison.OrdinalIgnoreCase))
        {
            var (tokens, seed) = ParseRandom(spec);
            if ((long)tokens * modelDim > Array.MaxLength)
            {
                throw new CliException($"--input {spec}: {tokens} x {modelDim} floats exceed one array ({Array.MaxLength}); use fewer tokens.");
            }

            return (QuickRun.RandomInputs(modelDim, tokens, seed), tokens);
        }

        CliPaths.ExistingFile("--input", spec, "a .npy file (or random:N[:seed])");
        var (x, shape) = CliErrors.About("--input", () => NpyFile.Read(spec), spec);
        if (shape.Length != 2 || shape[1] != modelDim)
        {
            throw new ArgumentException($"--input has shape ({string.Join(", ", shape)}); expected (n, {modelDim}) for this model's hidden_size.");
        }

        if (shape[0] == 0)
        {
            throw new ArgumentException("--input holds no tokens (shape (0, D)).");
        }

        return (x, (int)shape[0]);
    }

    /// <summary>N and the seed of <c>random:N[:seed]</c>; N >= 1.</summary>
    public static (int Tokens, int Seed) ParseRandom(string spec)
    {
        var parts = spec[Random.Length..].Split(':');
        if (parts.Length is < 1 or > 2
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int tokens) || tokens < 1
            || (parts.Length == 2 && !int.TryParse(parts[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)))
        {
            throw new CliException($"--input {spec}: expected random:N or random:N:SEED, N a token count >= 1 and SEED an integer.");
        }

        return (tokens, parts.Length == 2 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : 0);
    }
}
