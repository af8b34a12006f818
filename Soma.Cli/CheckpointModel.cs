using Soma;
using Soma.IO;

namespace Soma.Cli;

/// <summary>What `forward` and `generate` share: a whole checkpoint's weights and the Soma options for its layers.</summary>
internal static class CheckpointModel
{
    /// <summary>
    /// Reads <paramref name="somaPath"/> (defaults when null) and every tensor of <paramref name="folder"/>, and uploads
    /// them to <paramref name="engine"/>. Errors name the option they came from.
    /// </summary>
    public static SomaCausalLM Load(SomaEngine engine, string folder, string? somaPath)
    {
        var parameters = somaPath is null
            ? new SomaParameters()
            : CliErrors.About("--soma", () => SomaParameters.Load(CliPaths.ExistingFile("--soma", somaPath, "a JSON file of Soma options")), somaPath);
        CliPaths.Folder("--model", folder, "a checkpoint folder (config.json and safetensors)");
        var weights = CliErrors.About("--model", () => CausalLMWeights.Load(folder, parameters), folder);
        return engine.CreateCausalLM(weights, parameters.KvCapacity);
    }
}
