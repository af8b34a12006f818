using System.Text.Json;
using Soma;
using Spectre.Console;

namespace Soma.Cli.Bench;

/// <summary>The benchmark main job: every requested accelerator, tables, JSON, and optionally a plot.</summary>
internal static class BenchCommand
{
    /// <summary>
    /// Runs the benchmark on every accelerator <paramref name="accelerator"/> names; writes JSON only when
    /// <paramref name="jsonPath"/> is given, and the plot only when <paramref name="plot"/> is (Soma.Bench).
    /// </summary>
    public static int Run(
        string accelerator, string? shape, bool full, string? jsonPath, (string Path, Action<IReadOnlyList<AcceleratorRun>, string> Save)? plot,
        int seed, string commandLine, Func<SomaLayerOptions, SomaLayerOptions>? storage = null)
    {
        if (jsonPath is not null)
        {
            CliPaths.NewFile("--json", jsonPath, "a .json file to write");
        }

        if (plot is { } p)
        {
            CliPaths.NewFile("--plot", p.Path, "a .png file to write");
        }

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
        BenchProgress.Run(BenchProgress.Interactive, Console.Out, progress =>
        {
            foreach (var kind in kinds)
            {
                using var engine = CliEngine.Create(kind);
                var plan = BenchPlan.For(engine.Device.Kind, shape, full);
                plan = storage is null ? plan : plan with { Shape = storage(plan.Shape) };
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
        if (jsonPath is not null)
        {
            CliErrors.About("--json", () =>
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(jsonPath))!);
                File.WriteAllText(jsonPath, JsonSerializer.Serialize(file, BenchFile.Json));
            }, jsonPath);
            AnsiConsole.MarkupLine(Markup.Escape($"JSON written to {Path.GetFullPath(jsonPath)}"));
        }

        if (plot is { } chart)
        {
            CliErrors.About("--plot", () => chart.Save(runs, chart.Path), chart.Path);
            AnsiConsole.MarkupLine(Markup.Escape($"Plot written to {Path.GetFullPath(chart.Path)}"));
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
