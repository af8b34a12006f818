using System.CommandLine;
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
        var shared = new GenerationOptions();
        var prompt = new Option<string>("--prompt") { Description = "The prompt text.", Required = true };
        var command = new Command("generate", "Generate text with a whole decoder of a checkpoint on Soma attention. " + CliErrors.ExitCodes)
        {
            prompt,
        };
        shared.AddTo(command);
        command.SetAction(parse =>
        {
            var (folder, soma, kind, limit, sampling) = shared.Read(parse);
            var tokenizer = CheckpointTokenizer.Load(folder);
            var stops = CheckpointTokenizer.StopTokens(folder);
            var ids = tokenizer.EncodeToIds(parse.GetValue(prompt)!).ToArray();
            if (ids.Length == 0)
            {
                throw new CliException("--prompt encodes to no tokens; give some text.");
            }

            using var engine = CliEngine.Create(kind);
            using var lm = CheckpointModel.Load(engine, folder, soma);
            using var session = lm.CreateSession();
            var sampler = new SomaSampler(sampling);
            var result = TextGeneration.Continue(session, tokenizer, stops, sampler, ids, limit, output);
            output.WriteLine();
            (int decoded, double prefillSeconds, double decodeSeconds) = (result.Decoded, result.PrefillSeconds, result.DecodeSeconds);
            long kvBytes = lm.Layers.Sum(l => 2L * session.Position * l.Options.KvHeads * l.Options.HeadDim * sizeof(float));
            output.WriteLine(
                $"prefill {ids.Length} tokens at {ids.Length / prefillSeconds:F1} tokens/s; decode {decoded} tokens at " +
                (decoded > 0 ? $"{decoded / decodeSeconds:F1} tokens/s" : "-") +
                $"; state {session.StateBytes} bytes at position {session.Position} (constant), a KV cache would hold {kvBytes} bytes");
            return CliErrors.Success;
        });
        return command;
    }
}
