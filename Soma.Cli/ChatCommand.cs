using System.CommandLine;
using Soma;

namespace Soma.Cli;

/// <summary>
/// `soma chat`: an interactive loop over one conversation with a checkpoint's whole decoder. Each line is a turn
/// (the raw text, no chat template) that the model continues; `/save FILE` and `/load FILE` write and restore the
/// whole conversation's state (constant size), `/reset` forgets it, `/quit` (or the end of input) leaves.
/// </summary>
internal static class ChatCommand
{
    public static Command Create(TextWriter output, TextReader input)
    {
        var shared = new GenerationOptions();
        var resume = new Option<string?>("--resume") { Description = "Start from a conversation state written by /save." };
        var command = new Command("chat", "Talk with a whole decoder on Soma attention; /save FILE, /load FILE, /reset, /quit. " + CliErrors.ExitCodes)
        {
            resume,
        };
        shared.AddTo(command);
        command.SetAction(parse =>
        {
            var (folder, soma, kind, limit, sampling) = shared.Read(parse);
            var tokenizer = CheckpointTokenizer.Load(folder);
            var stops = CheckpointTokenizer.StopTokens(folder);
            using var engine = CliEngine.Create(kind);
            using var lm = CheckpointModel.Load(engine, folder, soma);
            using var session = lm.CreateSession();
            if (parse.GetValue(resume) is { } from)
            {
                CliErrors.About("--resume", () => Load(session, CliPaths.ExistingFile("--resume", from, "a state file written by /save")), from);
            }

            var sampler = new SomaSampler(sampling);
            int? pending = null;
            output.WriteLine($"position {session.Position}; state {session.StateBytes} bytes. /save FILE, /load FILE, /reset, /quit.");
            while (input.ReadLine() is { } line && line.Trim() != "/quit")
            {
                string[] words = line.Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
                switch (words.FirstOrDefault())
                {
                    case "/save" when words.Length == 2:
                        Flush(session, ref pending);
                        using (var stream = File.Create(words[1]))
                        {
                            session.SaveState(stream);
                        }

                        output.WriteLine($"saved position {session.Position} to {words[1]}");
                        continue;
                    case "/load" when words.Length == 2:
                        Load(session, words[1]);
                        pending = null;
                        output.WriteLine($"loaded position {session.Position} from {words[1]}");
                        continue;
                    case "/reset":
                        session.Reset();
                        pending = null;
                        output.WriteLine("position 0");
                        continue;
                }

                var ids = tokenizer.EncodeToIds(line).ToList();
                if (pending is { } token)
                {
                    ids.Insert(0, token);
                }

                if (ids.Count == 0)
                {
                    continue;
                }

                pending = TextGeneration.Continue(session, tokenizer, stops, sampler, ids.ToArray(), limit, output).Pending;
                output.WriteLine();
                output.WriteLine($"[position {session.Position}, state {session.StateBytes} bytes]");
            }

            return CliErrors.Success;
        });
        return command;
    }

    /// <summary>Feeds the token the last turn chose but did not consume, so a saved state holds every token shown.</summary>
    private static void Flush(SomaCausalLMSession session, ref int? pending)
    {
        if (pending is { } token)
        {
            session.DecodeGreedy(token);
            pending = null;
        }
    }

    private static void Load(SomaCausalLMSession session, string path)
    {
        using var stream = File.OpenRead(path);
        session.LoadState(stream);
    }
}
