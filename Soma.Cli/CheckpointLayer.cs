using Soma;
using Soma.IO;

namespace Soma.Cli;

/// <summary>What `run` and `verify --model` share: a checkpoint's layer with Soma's parameters, and x [n, D] for it.</summary>
internal sealed record CheckpointLayer(SomaLayerOptions Options, SomaLayerWeights Weights, float[] X, int Tokens)
{
    /// <summary>
    /// Loads layer <paramref name="layer"/> of <paramref name="folder"/> (parameters from <paramref name="somaPath"/>,
    /// defaults when null) and x from <paramref name="input"/> (<see cref="CliInput"/>); prints each caveat (what the
    /// model does that Soma does not) as a `note:` line on <paramref name="notes"/>. Errors name the option they came from.
    /// </summary>
    public static CheckpointLayer Load(string folder, int layer, string? somaPath, string input, TextWriter notes)
    {
        var parameters = somaPath is null
            ? new SomaParameters()
            : CliErrors.About("--soma", () => SomaParameters.Load(CliPaths.ExistingFile("--soma", somaPath, "a JSON file of Soma options")), somaPath);
        CliPaths.Folder("--model", folder, "a checkpoint folder (config.json and safetensors)");
        using var checkpoint = CliErrors.About("--model", () => HuggingFaceCheckpoint.Open(folder), folder);
        var config = checkpoint.Config;
        if (layer < 0 || layer >= config.Layers)
        {
            throw new CliException($"--layer {layer}: expected 0 <= layer < {config.Layers} (num_hidden_layers in {folder}).");
        }

        parameters = parameters.ForLayer(layer); // the file's "layers" entry for this layer, where it has one

        // Lists of the wrong length are the options file's mistake, not the checkpoint's: check them before loading.
        CliErrors.About("--soma", () => (parameters.GammaFor(config.KvHeads), parameters.AlphaFor(config.Heads)));
        var (options, weights) = CliErrors.About("--model", () => checkpoint.LoadAttentionLayer(layer, parameters), folder);
        foreach (var caveat in checkpoint.Caveats(layer))
        {
            notes.WriteLine($"note: {caveat}");
        }

        var (x, tokens) = CliInput.Read(input, options.ModelDim);
        return new CheckpointLayer(options, weights, x, tokens);
    }
}
