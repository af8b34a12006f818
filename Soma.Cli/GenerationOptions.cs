using System.CommandLine;
using Soma;

namespace Soma.Cli;

/// <summary>The options `generate` and `chat` share: checkpoint, Soma options, accelerator, length and sampling.</summary>
internal sealed class GenerationOptions
{
    private readonly Option<string> model = new("--model") { Description = "Checkpoint folder (config.json, safetensors, tokenizer.json or tokenizer.model).", Required = true };
    private readonly Option<string?> soma = new("--soma") { Description = "Soma options JSON; defaults when absent." };
    private readonly Option<int> maxNew = new("--max-new-tokens") { Description = "Tokens to generate at most (per turn).", DefaultValueFactory = _ => 64 };
    private readonly Option<double> temperature = new("--temperature") { Description = "0: greedy (argmax on the device); else the softmax temperature.", DefaultValueFactory = _ => 0 };
    private readonly Option<int> topK = new("--top-k") { Description = "Sample among the k most likely tokens (0: all).", DefaultValueFactory = _ => 0 };
    private readonly Option<double> topP = new("--top-p") { Description = "Sample among the most likely tokens up to this probability (1: all).", DefaultValueFactory = _ => 1.0 };
    private readonly Option<int> seed = new("--seed") { Description = "Seed of the sampling.", DefaultValueFactory = _ => 0 };
    private readonly Option<string> accelerator = new("--accelerator") { Description = "auto, cpu, cuda or opencl.", DefaultValueFactory = _ => "auto" };

    /// <summary>Adds the options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { model, soma, maxNew, temperature, topK, topP, seed, accelerator })
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The parsed values, checked: the folder, the Soma options path, the accelerator, the limit and the sampling.</summary>
    public (string Folder, string? Soma, SomaAcceleratorKind Kind, int Limit, SamplingOptions Sampling) Read(ParseResult parse)
    {
        var kind = SomaEngineOptions.ParseKind(parse.GetValue(accelerator)!);
        int limit = parse.GetValue(maxNew);
        if (limit < 1)
        {
            throw new CliException($"--max-new-tokens must be >= 1, not {limit}.");
        }

        var sampling = CliErrors.About("--temperature", () => new SamplingOptions(parse.GetValue(temperature), parse.GetValue(topK), parse.GetValue(topP), parse.GetValue(seed)));
        string folder = CliPaths.Folder("--model", parse.GetValue(model)!, "a checkpoint folder");
        return (folder, parse.GetValue(soma), kind, limit, sampling);
    }
}
