using Soma;
using Soma.IO;

namespace Soma.Bench.Cli;

/// <summary>What `run` and `verify --model` share: a checkpoint's layer with Soma's parameters, and x [n, D] for it.</summary>
internal sealed record CheckpointLayer(SomaLayerOptions Options, SomaLayerWeights Weights, float[] X, int Tokens)
{
    /// <summary>
    /// Loads layer <paramref name="layer"/> of <paramref name="folder"/> (parameters from <paramref name="somaPath"/>,
    /// defaults when null) and the .npy input; prints each caveat (what the model does that Soma does not) as a
    /// `note:` line on <paramref name="notes"/>.
    /// </summary>
    public static CheckpointLayer Load(string folder, int layer, string? somaPath, string inputPath, TextWriter notes)
    {
        var parameters = somaPath is null ? new SomaParameters() : SomaParameters.Load(somaPath);
        using var checkpoint = HuggingFaceCheckpoint.Open(folder);
        var (options, weights) = checkpoint.LoadAttentionLayer(layer, parameters);
        foreach (var caveat in checkpoint.Caveats(layer))
        {
            notes.WriteLine($"note: {caveat}");
        }

        var (x, shape) = NpyFile.Read(inputPath);
        if (shape.Length != 2 || shape[1] != options.ModelDim)
        {
            throw new ArgumentException($"--input has shape ({string.Join(", ", shape)}); expected (n, {options.ModelDim}) for this model's hidden_size.");
        }

        if (shape[0] == 0)
        {
            throw new ArgumentException("--input holds no tokens (shape (0, D)).");
        }

        return new CheckpointLayer(options, weights, x, (int)shape[0]);
    }
}
