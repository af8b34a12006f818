using System.CommandLine;
using System.Text.Json;
using Soma.Cli.Bench;
using Soma.Internal;

namespace Soma.Cli;

/// <summary>
/// `soma predict`: a decode step, a prefill and a batched decode step (B sessions, one token each) at a layer shape
/// and storage types (--weight-type, --ring-type as soma run's) on the built-in H100 SXM and H200 descriptions, as the
/// performance model predicts them (<see cref="PerformanceModel"/>), with the profile counts they rest on; no GPU.
/// Markdown on stdout (docs/benchmarks.md pastes it), JSON with --json.
/// </summary>
internal static class PredictCommand
{
    public static Command Create(TextWriter output)
    {
        var shape = new Option<string>("--shape") { Description = "small or qwen7b.", DefaultValueFactory = _ => "qwen7b" };
        var history = new Option<long>("--history") { Description = "Tokens the session holds before the decode step.", DefaultValueFactory = _ => 4096 };
        var prefill = new Option<int>("--prefill") { Description = "Prompt tokens of the prefill (from position 0).", DefaultValueFactory = _ => 4096 };
        var batch = new Option<int>("--batch") { Description = "Sessions of the batched decode step (one token each, at --history).", DefaultValueFactory = _ => 64 };
        var json = new Option<string?>("--json") { Description = "Also write the predictions as JSON to this file." };
        var storage = new StorageTypeOptions();
        var command = new Command(
            "predict",
            "PREDICTED (not measured) decode step and prefill times on the built-in H100 SXM and H200 descriptions, from the plans' " +
            "launches, bytes and FLOPs and the call path's copies and waits; runs nothing on a GPU. " + CliErrors.ExitCodes)
        {
            shape, history, prefill, batch, json,
        };
        storage.AddTo(command);
        command.SetAction(parse =>
        {
            long position = parse.GetValue(history);
            int tokens = parse.GetValue(prefill);
            int sessions = parse.GetValue(batch);
            if (position < 0 || tokens < 1 || sessions < 1)
            {
                throw new CliException("--history must be >= 0, --prefill >= 1 and --batch >= 1.");
            }

            string? jsonPath = parse.GetValue(json) is { } path ? CliPaths.NewFile("--json", path, "a .json file to write") : null;
            string name = parse.GetValue(shape)!.ToLowerInvariant();
            var o = storage.Apply(parse, BenchShapes.ByName(name));
            var (decodeProfile, prefillProfile, batchProfile) = CallPathCounts.Of(o, position, tokens, sessions);
            var calls = new[]
            {
                new PredictedCall("decode", 1, position, Predictions.For(o, 1, position, decodeProfile)!),
                new PredictedCall("prefill", tokens, 0, Predictions.For(o, tokens, 0, prefillProfile)!),
                new PredictedCall("batch-decode", sessions, position, Predictions.For(o, 1, position, batchProfile, sessions)!),
            };
            var shapeRecord = ShapeRecord.Of(name, o);
            var file = new PredictFile(
                "soma-predict/1", DateTimeOffset.UtcNow.ToString("O"),
                $"soma predict --shape {name} --history {position} --prefill {tokens} --batch {sessions} --weight-type {shapeRecord.WeightType} --ring-type {shapeRecord.RingType}",
                shapeRecord, ConstantsRecord.Of(PerformanceConstants.Assumed), calls);
            PredictReport.Write(output, file);
            if (jsonPath is not null)
            {
                CliErrors.About("--json", () =>
                {
                    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(jsonPath))!);
                    File.WriteAllText(jsonPath, JsonSerializer.Serialize(file, BenchFile.Json));
                }, jsonPath);
            }

            return CliErrors.Success;
        });
        return command;
    }
}
