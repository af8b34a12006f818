using System.CommandLine;
using ILGPU;
using Soma.Internal;

namespace Soma.Cli;

/// <summary>
/// `soma ptx`: every Soma kernel compiled to PTX with ILGPU's PTX backend, one DIR/NAME.ptx per kernel, on any
/// machine (no GPU, no CUDA driver). tools/ptx-check.sh assembles the files with NVIDIA's ptxas and reports on them.
/// </summary>
internal static class PtxCommand
{
    public static Command Create(TextWriter output)
    {
        var outDir = new Option<string>("--out") { Description = "Folder for the .ptx files (created if missing; existing files of the same names are replaced).", Required = true };
        var sm = new Option<int>("--sm") { Description = "CUDA compute capability to compile for, major*10+minor (90 = sm_90, H100/H200).", DefaultValueFactory = _ => 90 };
        var optimization = new Option<string>("--optimization")
        {
            Description = $"ILGPU optimisation level: O0, O1 or O2 (default: the engine's, {Name(KernelCatalog.EngineOptimization)}).",
            DefaultValueFactory = _ => Name(KernelCatalog.EngineOptimization),
        };
        var command = new Command(
            "ptx",
            "Compile every Soma kernel to PTX (ILGPU's PTX backend, no GPU needed): one NAME.ptx per kernel in --out. " + CliErrors.ExitCodes)
        {
            outDir, sm, optimization,
        };
        command.SetAction(parse =>
        {
            string folder = CliPaths.Folder("--out", parse.GetValue(outDir)!, "a folder for the .ptx files");
            var level = Level(parse.GetValue(optimization)!);
            int capability = parse.GetValue(sm);
            var kernels = CliErrors.About("--sm", () => KernelPtx.Compile(capability, level));
            Directory.CreateDirectory(folder);
            foreach (var (name, ptx) in kernels)
            {
                string path = Path.Combine(folder, name + ".ptx");
                File.WriteAllText(path, ptx);
                output.WriteLine($"{name}: {ptx.Length} chars -> {path}");
            }

            output.WriteLine($"{kernels.Count} kernels compiled to PTX for sm_{capability} at {Name(level)}");
            return CliErrors.Success;
        });
        return command;
    }

    // ILGPU's enum names O1 "Release" and O0 "Debug": the option speaks O0/O1/O2 only.
    private static string Name(OptimizationLevel level) => level switch
    {
        OptimizationLevel.O0 => "O0",
        OptimizationLevel.O1 => "O1",
        _ => "O2",
    };

    private static OptimizationLevel Level(string text) => text.ToUpperInvariant() switch
    {
        "O0" => OptimizationLevel.O0,
        "O1" => OptimizationLevel.O1,
        "O2" => OptimizationLevel.O2,
        _ => throw new CliException($"--optimization must be O0, O1 or O2, not '{text}'."),
    };
}
