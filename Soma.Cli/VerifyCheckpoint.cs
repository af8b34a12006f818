using Soma;
using Soma.Cli.Bench;
using Soma.IO;
using Soma.Reference;

namespace Soma.Cli;

/// <summary>`soma verify --model`: one checkpoint layer on an accelerator against the double-precision reference.</summary>
internal static class VerifyCheckpoint
{
    public static int Run(
        string folder, int layerIndex, string? somaPath, string inputPath, SomaAcceleratorKind kind, TextWriter output, TextWriter notes,
        Func<SomaLayerOptions, SomaLayerOptions> storage)
    {
        var (options, weights, x, n) = CheckpointLayer.Load(folder, layerIndex, somaPath, inputPath, notes);
        options = storage(options);
        using var engine = CliEngine.Create(kind);
        using var layer = engine.CreateLayer(options, weights);
        using var session = layer.CreateSession();
        var y = session.Prefill(x);
        var reference = new SomaReference(options, weights);
        var comparison = Comparison.Of(y, reference.Run(reference.CreateState(), x));
        var (maxRelative, minCosine) = QuickRun.BoundFor(options);
        bool pass = comparison.RelativeMaxError <= maxRelative && comparison.Cosine >= minCosine;
        output.WriteLine($"layer {layerIndex} of {folder}, {n} tokens on {engine.Device.Kind.ToString().ToLowerInvariant()}: {comparison}");
        output.WriteLine(pass ? "PASS" : $"FAIL: relative max error must be <= {maxRelative:E0} and cosine >= {minCosine}");
        return pass ? CliErrors.Success : CliErrors.CheckFailed;
    }
}
