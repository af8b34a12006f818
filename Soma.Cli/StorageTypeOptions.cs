using System.CommandLine;
using Soma;

namespace Soma.Cli;

/// <summary>
/// `--weight-type` and `--ring-type` of `soma run`, `soma verify` and the benchmark: the layer's <see cref="SomaLayerOptions.WeightStorage"/>
/// and <see cref="SomaLayerOptions.RingStorage"/> (f32, f16 or bf16; left out: the layer's defaults, the checkpoint's
/// dtype for weights and an fp32 ring).
/// </summary>
internal sealed class StorageTypeOptions
{
    private readonly Option<string?> weightType = new("--weight-type")
    {
        Description = "How the layer stores its weights: f32, f16 or bf16 (default: the checkpoint's dtype; f32 for a random layer).",
    };

    private readonly Option<string?> ringType = new("--ring-type")
    {
        Description = "How the ring stores keys and values: f32 (default), f16 or bf16.",
    };

    /// <summary>Adds both options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(weightType);
        command.Options.Add(ringType);
    }

    /// <summary><paramref name="options"/> with the types the command line names (unchanged where it names none).</summary>
    public SomaLayerOptions Apply(ParseResult parse, SomaLayerOptions options) => Resolve(parse)(options);

    /// <summary>
    /// The types the command line names, checked now (an unknown name is a <see cref="CliException"/> before anything
    /// runs), as a function that gives any layer's options those types.
    /// </summary>
    public Func<SomaLayerOptions, SomaLayerOptions> Resolve(ParseResult parse)
    {
        var weights = Parse(parse.GetValue(weightType), "--weight-type");
        var ring = Parse(parse.GetValue(ringType), "--ring-type");
        return options =>
        {
            options = weights is { } w ? options with { WeightStorage = w } : options;
            return ring is { } r ? options with { RingStorage = r } : options;
        };
    }

    private static SomaStorageType? Parse(string? value, string option) =>
        value is null
            ? null
            : Internal.StorageTypes.Parse(value) ?? throw new CliException($"{option} {value}: expected f32, f16 or bf16.");
}
