using System.CommandLine;
using System.Diagnostics;
using Soma;
using Soma.IO;

namespace Soma.Cli;

/// <summary>`soma run`: one attention layer of a checkpoint on x.npy, y.npy out; optional decode tail and state files.</summary>
internal static class RunCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder (config.json + safetensors).", Required = true };
        var layer = new Option<int>("--layer") { Description = "Layer index (0-based).", Required = true };
        var soma = new Option<string?>("--soma") { Description = "Soma options JSON (window, include_current, gamma, alpha, rope, scale); defaults when absent." };
        var input = new Option<string>("--input") { Description = CliInput.Help, Required = true };
        var outputFile = new Option<string>("--output") { Description = "Where y [n, D] goes (float32 .npy).", Required = true };
        var accelerator = new Option<string>("--accelerator") { Description = "auto, cpu, cuda or opencl.", DefaultValueFactory = _ => "auto" };
        var decodeFrom = new Option<int?>("--decode-from") { Description = "Prefill the first T tokens, decode the rest one by one (0 < T <= n)." };
        var stateIn = new Option<string?>("--state-in") { Description = "Start from a session snapshot written by --state-out." };
        var stateOut = new Option<string?>("--state-out") { Description = "Write the session's state afterwards (versioned, checksummed)." };
        var convertRing = new Option<bool>("--convert-ring") { Description = "Load a --state-in snapshot whose ring type differs from --ring-type, converting it." };
        var storage = new StorageTypeOptions();
        var command = new Command("run", "Run one attention layer of a checkpoint as a Soma layer. " + CliErrors.ExitCodes)
        {
            model, layer, soma, input, outputFile, accelerator, decodeFrom, stateIn, stateOut, convertRing,
        };
        storage.AddTo(command);
        command.SetAction(parse =>
        {
            var kind = SomaEngineOptions.ParseKind(parse.GetValue(accelerator)!);
            string yPath = CliPaths.NewFile("--output", parse.GetValue(outputFile)!, "a .npy file to write");
            string? statePath = parse.GetValue(stateOut) is { } s ? CliPaths.NewFile("--state-out", s, "a snapshot file to write") : null;
            string? from = parse.GetValue(stateIn) is { } f ? CliPaths.ExistingFile("--state-in", f, "a snapshot file written by --state-out") : null;
            var (options, weights, x, n) = CheckpointLayer.Load(
                parse.GetValue(model)!, parse.GetValue(layer), parse.GetValue(soma), parse.GetValue(input)!, error);
            options = storage.Apply(parse, options);
            int prefill = parse.GetValue(decodeFrom) ?? n;
            if (prefill < 1 || prefill > n)
            {
                throw new ArgumentException($"--decode-from must lie in [1, {n}], not {prefill}.");
            }

            using var engine = CliEngine.Create(kind);
            using var somaLayer = engine.CreateLayer(options, weights);
            using var session = somaLayer.CreateSession();
            var snapshotOptions = new SnapshotOptions { LayerIndex = parse.GetValue(layer), ConvertRing = parse.GetValue(convertRing) }; // state files name their layer
            if (from is not null)
            {
                CliErrors.About("--state-in", () =>
                {
                    using var stream = File.OpenRead(from);
                    session.LoadState(stream, snapshotOptions);
                }, from);
            }

            int d = options.ModelDim;
            var y = new float[x.Length];
            var sw = Stopwatch.StartNew();
            session.Prefill(x.AsSpan(0, prefill * d), y.AsSpan(0, prefill * d));
            double prefillMs = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            for (int t = prefill; t < n; t++)
            {
                session.Decode(x.AsSpan(t * d, d), y.AsSpan(t * d, d));
            }

            double decodeMs = sw.Elapsed.TotalMilliseconds;
            CliErrors.About("--output", () => NpyFile.Write(yPath, y, n, d), yPath);
            if (statePath is not null)
            {
                CliErrors.About("--state-out", () =>
                {
                    using var stream = File.Create(statePath);
                    session.SaveState(stream, snapshotOptions);
                }, statePath);
            }

            output.WriteLine(
                $"{n} tokens on {engine.Device.Kind.ToString().ToLowerInvariant()} ({engine.Device.Name}): prefill {prefill} in {prefillMs:F1} ms" +
                (n > prefill ? $", decode {n - prefill} at {decodeMs / (n - prefill):F3} ms/step" : "") + $"; position {session.Position}");
            return CliErrors.Success;
        });
        return command;
    }
}
