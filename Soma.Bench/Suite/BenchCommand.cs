using System.Text.Json;
using Soma;
using Spectre.Console;

namespace Soma.Bench.Suite;

/// <summary>The benchmark main job: every requested accelerator, tables, JSON, and optionally a plot.</summary>
internal static class BenchCommand
{
    public static int Run(string accelerator, string? shape, bool full, string jsonPath, string? plotPath, int seed, string commandLine)
    {
        if (Console.IsOutputRedirected)
        {
            // Logs and CI: wide tables instead of wrapping at the default 80 columns.
            AnsiConsole.Profile.Width = 160;
        }

        var devices = SomaEngine.ListDevices();
        AnsiConsole.MarkupLine("[bold]Devices[/]");
        foreach (var device in devices)
        {
            AnsiConsole.MarkupLine(Markup.Escape($"  {device}"));
        }

        var kinds = Kinds(accelerator, devices);
        var runs = new List<AcceleratorRun>();
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
            .Start(progress =>
            {
                foreach (var kind in kinds)
                {
                    using var engine = SomaEngine.Create(new SomaEngineOptions(kind));
                    var plan = BenchPlan.For(engine.Device.Kind, shape, full);
                    runs.Add(new AcceleratorBench(engine, plan, seed).Run(progress));
                }
            });

        foreach (var run in runs)
        {
            BenchReport.Print(run);
        }

        var file = new BenchFile(
            BenchFile.SchemaName, DateTimeOffset.UtcNow.ToString("O"), commandLine,
            $"{Environment.MachineName}, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}", runs);
        var directory = Path.GetDirectoryName(Path.GetFullPath(jsonPath));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        File.WriteAllText(jsonPath, JsonSerializer.Serialize(file, BenchFile.Json));
        AnsiConsole.MarkupLine(Markup.Escape($"JSON written to {Path.GetFullPath(jsonPath)}"));
        if (plotPath is not null)
        {
            DecodePlot.Save(runs, plotPath);
            AnsiConsole.MarkupLine(Markup.Escape($"Plot written to {Path.GetFullPath(plotPath)}"));
        }

        bool verified = runs.All(r => r.Verify.Pass);
        AnsiConsole.MarkupLine(verified ? "[green]verify: PASS on every accelerator[/]" : "[red]verify: FAIL[/]");
        return verified ? 0 : 1;
    }

    private static List<SomaAcceleratorKind> Kinds(string accelerator, IReadOnlyList<SomaDeviceInfo> devices)
    {
        if (accelerator.Equals("all", StringComparison.OrdinalIgnoreCase))
        {
            // OpenCL CPU runtimes (PoCL) are skipped as in automatic selection: name them with --accelerator opencl.
            return devices.Where(d => d.Usable && !d.IsOpenClCpu).Select(d => d.Kind).Distinct().ToList();
        }

        // auto: the engine picks the best present (CUDA, then OpenCL, then the CPU accelerator).
        return new List<SomaAcceleratorKind> { SomaEngineOptions.ParseKind(accelerator) };
    }
}
