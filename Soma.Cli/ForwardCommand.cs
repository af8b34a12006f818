using System.CommandLine;
using System.Diagnostics;
using Soma.IO;

namespace Soma.Cli;

/// <summary>`soma forward`: a whole decoder of a checkpoint on token ids (.npy), logits [n, V] (.npy) out.</summary>
internal static class ForwardCommand
{
    public static Command Create(TextWriter output)
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder (config.json + safetensors) of a Llama, Qwen2 or Mistral model.", Required = true };
        var soma = new Option<string?>("--soma") { Description = "Soma options JSON (window, gamma, alpha, ..., full_attention_layers, kv_capacity); defaults when absent." };
        var tokens = new Option<string>("--tokens") { Description = "Token ids: a 1-D int32 or int64 .npy.", Required = true };
        var outputFile = new Option<string>("--output") { Description = "Where the logits [n, V] go (float32 .npy).", Required = true };
        var accelerator = new Option<string>("--accelerator") { Description = "auto, cpu, cuda or opencl.", DefaultValueFactory = _ => "auto" };
        var decodeFrom = new Option<int?>("--decode-from") { Description = "Prefill the first K tokens in one call, decode the rest one at a time (1 <= K <= n)." };
        var command = new Command("forward", "Run a whole decoder of a checkpoint with Soma attention on token ids; write the logits. " + CliErrors.ExitCodes)
        {
            model, soma, tokens, outputFile, accelerator, decodeFrom,
        };
        command.SetAction(parse =>
        {
            var kind = SomaEngineOptions.ParseKind(parse.GetValue(accelerator)!);
            string path = CliPaths.NewFile("--output", parse.GetValue(outputFile)!, "a .npy file to write");
            string tokenPath = CliPaths.ExistingFile("--tokens", parse.GetValue(tokens)!, "a 1-D int32 or int64 .npy of token ids");
            using var engine = CliEngine.Create(kind);
            using var lm = CheckpointModel.Load(engine, parse.GetValue(model)!, parse.GetValue(soma));
            int v = lm.VocabSize;
            var ids = CliErrors.About("--tokens", () => NpyFile.ReadTokens(tokenPath, v), tokenPath);
            int n = ids.Length;
            if (n == 0)
            {
                throw new CliException($"--tokens {tokenPath} holds no token ids.");
            }

            int prefill = parse.GetValue(decodeFrom) ?? n;
            if (prefill < 1 || prefill > n)
            {
                throw new CliException($"--decode-from must lie in [1, {n}], not {prefill}.");
            }

            using var session = lm.CreateSession();
            var logits = new float[(long)n * v];
            var sw = Stopwatch.StartNew();
            session.Prefill(ids.AsSpan(0, prefill), logits.AsSpan(0, prefill * v));
            double prefillMs = sw.Elapsed.TotalMilliseconds;
            sw.Restart();
            for (int t = prefill; t < n; t++)
            {
                session.Decode(ids[t], logits.AsSpan(t * v, v));
            }

            double decodeMs = sw.Elapsed.TotalMilliseconds;
            CliErrors.About("--output", () => NpyFile.Write(path, logits, n, v), path);
            output.WriteLine(
                $"{n} tokens on {engine.Device.Kind.ToString().ToLowerInvariant()} ({engine.Device.Name}): prefill {prefill} in {prefillMs:F1} ms" +
                (n > prefill ? $", decode {n - prefill} at {decodeMs / (n - prefill):F3} ms/step" : "") +
                $"; logits [{n}, {v}]; state {session.StateBytes} bytes per conversation");
            return CliErrors.Success;
        });
        return command;
    }
}
