using System.CommandLine;
using System.Diagnostics;
using Soma;

namespace Soma.Cli;

/// <summary>
/// `soma generate`: a checkpoint's tokenizer and whole decoder with Soma attention; streams the text as it is made,
/// then prints tokens/s of prefill and decode and the conversation's state bytes against what a KV cache would hold.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create(TextWriter output)
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder (config.json, safetensors, tokenizer.json or tokenizer.model).", Required = true };
        var soma = new Option<string?>("--soma") { Description = "Soma options JSON; defaults when absent." };
        var prompt = new Option<string>("--prompt") { Description = "The prompt text.", Required = true };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate at most.", DefaultValueFactory = _ => 64 };
        var temperature = new Option<double>("--temperature") { Description = "0: greedy (argmax on the device); else the softmax temperature.", DefaultValueFactory = _ => 0 };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely tokens (0: all).", DefaultValueFactory = _ => 0 };
        var topP = new Option<double>("--top-p") { Description = "Sample among the most likely tokens up to this probability (1: all).", DefaultValueFactory = _ => 1.0 };
        var seed = new Option<int>("--seed") { Description = "Seed of the sampling.", DefaultValueFactory = _ => 0 };
        var accelerator = new Option<string>("--accelerator") { Description = "auto, cpu, cuda or opencl.", DefaultValueFactory = _ => "auto" };
        var command = new Command("generate", "Generate text with a whole decoder of a checkpoint on Soma attention. " + CliErrors.ExitCodes)
        {
            model, soma, prompt, maxNew, temperature, topK, topP, seed, accelerator,
        };
        command.SetAction(parse =>
        {
            var kind = SomaEngineOptions.ParseKind(parse.GetValue(accelerator)!);
            string folder = parse.GetValue(model)!;
            int limit = parse.GetValue(maxNew);
            if (limit < 1)
            {
                throw new CliException($"--max-new-tokens must be >= 1, not {limit}.");
            }

            var sampling = CliErrors.About("--temperature", () => new SamplingOptions(parse.GetValue(temperature), parse.GetValue(topK), parse.GetValue(topP), parse.GetValue(seed)));
            CliPaths.Folder("--model", folder, "a checkpoint folder");
            var tokenizer = CheckpointTokenizer.Load(folder);
            var stops = CheckpointTokenizer.StopTokens(folder);
            var ids = tokenizer.EncodeToIds(parse.GetValue(prompt)!).ToArray();
            if (ids.Length == 0)
            {
                throw new CliException("--prompt encodes to no tokens; give some text.");
            }

            using var engine = CliEngine.Create(kind);
            using var lm = CheckpointModel.Load(engine, folder, parse.GetValue(soma));
            using var session = lm.CreateSession();
            var sampler = new SomaSampler(sampling);
            var made = new List<int>();
            int decoded = 0;
            var sw = Stopwatch.StartNew();
            int next = session.PrefillNext(ids, sampler);
            double prefillSeconds = sw.Elapsed.TotalSeconds;
            string shown = "";
            sw.Restart();
            while (true)
            {
                if (stops.Contains(next))
                {
                    break;
                }

                made.Add(next);
                shown = Stream(output, tokenizer.Decode(made) ?? "", shown, final: false);

                if (made.Count >= limit)
                {
                    break;
                }

                next = session.DecodeNext(next, sampler);
                decoded++;
            }

            double decodeSeconds = sw.Elapsed.TotalSeconds;
            Stream(output, tokenizer.Decode(made) ?? "", shown, final: true);
            output.WriteLine();
            long kvBytes = lm.Layers.Sum(l => 2L * session.Position * l.Options.KvHeads * l.Options.HeadDim * sizeof(float));
            output.WriteLine(
                $"prefill {ids.Length} tokens at {ids.Length / prefillSeconds:F1} tokens/s; decode {decoded} tokens at " +
                (decoded > 0 ? $"{decoded / decodeSeconds:F1} tokens/s" : "-") +
                $"; state {session.StateBytes} bytes at position {session.Position} (constant), a KV cache would hold {kvBytes} bytes");
            return CliErrors.Success;
        });
        return command;
    }

    /// <summary>
    /// Writes what <paramref name="text"/> adds to <paramref name="shown"/> and returns what is shown now. Until
    /// <paramref name="final"/>, a trailing replacement character (a UTF-8 sequence still incomplete) waits.
    /// </summary>
    private static string Stream(TextWriter output, string text, string shown, bool final)
    {
        string stable = final ? text : text.TrimEnd('\uFFFD');
        if (stable.Length > shown.Length && stable.StartsWith(shown, StringComparison.Ordinal))
        {
            output.Write(stable[shown.Length..]);
            output.Flush();
            return stable;
        }

        return shown;
    }
}
