using System.Diagnostics;
using Microsoft.ML.Tokenizers;
using Soma;

namespace Soma.Cli;

/// <summary>
/// The generation loop `generate` and `chat` share: prefill the prompt, then decode until a stop token or the limit,
/// streaming the text as it is made (an incomplete UTF-8 sequence waits for its next token).
/// </summary>
internal static class TextGeneration
{
    /// <summary>What one continuation did.</summary>
    /// <param name="Decoded">Decode steps.</param>
    /// <param name="PrefillSeconds">Wall time of the prompt's prefill.</param>
    /// <param name="DecodeSeconds">Wall time of the decode steps.</param>
    /// <param name="Pending">The last token chosen and shown but not yet fed to the session (null after a stop token).</param>
    public readonly record struct Result(int Decoded, double PrefillSeconds, double DecodeSeconds, int? Pending);

    /// <summary>Continues <paramref name="session"/> with <paramref name="prompt"/> and at most <paramref name="limit"/> new tokens.</summary>
    public static Result Continue(
        SomaCausalLMSession session, Tokenizer tokenizer, IReadOnlySet<int> stops, SomaSampler sampler, int[] prompt, int limit, TextWriter output)
    {
        var made = new List<int>();
        int decoded = 0;
        var sw = Stopwatch.StartNew();
        int next = session.PrefillNext(prompt, sampler);
        double prefillSeconds = sw.Elapsed.TotalSeconds;
        string shown = "";
        sw.Restart();
        while (!stops.Contains(next))
        {
            made.Add(next);
            shown = Stream(output, tokenizer.Decode(made) ?? "", shown, final: false);
            if (made.Count >= limit)
            {
                break;
            }

            next = session.DecodeNext(next, sampler);
            decoded++;
        }

        Stream(output, tokenizer.Decode(made) ?? "", shown, final: true);
        return new Result(decoded, prefillSeconds, sw.Elapsed.TotalSeconds, stops.Contains(next) ? null : next);
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
