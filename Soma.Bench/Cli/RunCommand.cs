using System.CommandLine;
using System.Diagnostics;
using Soma;
using Soma.IO;

namespace Soma.Bench.Cli;

/// <summary>`soma run`: one attention layer of a checkpoint on x.npy, y.npy out; optional decode tail and state files.</summary>
internal static class RunCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = new Option<DirectoryInfo>("--model") { Description = "Checkpoint folder (config.json + safetensors).", Required = true };
        var layer = new Option<int>("--layer") { Description = "Layer index (0-based).", Required = true };
        var soma = new Option<FileInfo?>("--soma") { Description = "Soma options JSON (window, include_current, gamma, alpha, rope, scale); defaults when absent." };
        var input = new Option<FileInfo>("--input") { Description = "x [n, D] as .npy (float32 or float16, C order).", Required = true };
        var outputFile = new Option<FileInfo>("--output") { Description = "Where y [n, D] goes (float32 .npy).", Required = true };
        var accelerator = new Option<string>("--accelerator") { Description = "auto, cpu, cuda or opencl.", DefaultValueFactory = _ => "auto" };
        var decodeFrom = new Option<int?>("--decode-from") { Description = "Prefill the first T tokens, decode the rest one by one (0 < T <= n)." };
        var stateIn = new Option<FileInfo?>("--state-in") { Description = "Start from a session snapshot written by --state-out." };
        var stateOut = new Option<FileInfo?>("--state-out") { Description = "Write the session's state afterwards (versioned, checksummed)." };
        var command = new Command("run", "Run one attention layer of a checkpoint as a Soma layer. " + CliErrors.ExitCodes)
        {
            model, layer, soma, input, outputFile, accelerator, decodeFrom, stateIn, stateOut,
        };
        command.SetAction(parse => CliErrors.Guarded(error, () =>
        {
            var (options, weights, x, n) = CheckpointLayer.Load(
                parse.GetValue(model)!.FullName, parse.GetValue(layer), parse.GetValue(soma)?.FullName, parse.GetValue(input)!.FullName, error);
            int prefill = parse.GetValue(decodeFrom) ?? n;
            if (prefill < 1 || prefill > n)
            {
                throw new ArgumentException($"--decode-from must lie in [1, {n}], not {prefill}.");
            }

            using var engine = SomaEngine.Create(new SomaEngineOptions(SomaEngineOptions.ParseKind(parse.GetValue(accelerator)!)));
            using var somaLayer = engine.CreateLayer(options, weights);
            using var session = somaLayer.CreateSession();
            if (parse.GetValue(stateIn) is { } from)
            {
                using var stream = File.OpenRead(from.FullName);
                try
                {
                    session.LoadState(stream);
                }
                catch (Exception ex) when (ex is InvalidDataException or ArgumentException)
                {
                    throw new InvalidDataException($"--state-in {from.FullName}: {CliErrors.OneLine(ex)}", ex);
                }
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
            NpyFile.Write(parse.GetValue(outputFile)!.FullName, y, n, d);
            if (parse.GetValue(stateOut) is { } to)
            {
                using var stream = File.Create(to.FullName);
                session.SaveState(stream);
            }

            output.WriteLine(
                $"{n} tokens on {engine.Device.Kind.ToString().ToLowerInvariant()} ({engine.Device.Name}): prefill {prefill} in {prefillMs:F1} ms" +
                (n > prefill ? $", decode {n - prefill} at {decodeMs / (n - prefill):F3} ms/step" : "") + $"; position {session.Position}");
            return CliErrors.Success;
        }));
        return command;
    }
}
