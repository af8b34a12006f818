using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Soma.Cli;

/// <summary>
/// A checkpoint folder's tokenizer through Microsoft.ML.Tokenizers: <c>tokenizer.model</c> (SentencePiece BPE, as
/// Llama 2 and Mistral ship it) or the BPE model of <c>tokenizer.json</c> (vocab, merges, added tokens, byte-level and
/// the Split pre-tokenizer's regex, as Qwen2 and Llama 3 ship it). Anything else is an error naming the file and what
/// it holds. Stop tokens come from generation_config.json's eos_token_id, else config.json's.
/// </summary>
internal static class CheckpointTokenizer
{
    /// <summary>The tokenizer of <paramref name="folder"/>.</summary>
    public static Tokenizer Load(string folder)
    {
        string model = Path.Combine(folder, "tokenizer.model");
        string json = Path.Combine(folder, "tokenizer.json");
        if (File.Exists(json))
        {
            return FromJson(json);
        }

        if (File.Exists(model))
        {
            using var stream = File.OpenRead(model);
            return CliErrors.About("--model", () => LlamaTokenizer.Create(stream), model);
        }

        throw new CliException($"--model {folder} has neither tokenizer.json nor tokenizer.model; generate needs the checkpoint's tokenizer.");
    }

    /// <summary>Token ids that end generation: eos_token_id (one id or a list) of generation_config.json, else of config.json.</summary>
    public static IReadOnlySet<int> StopTokens(string folder)
    {
        foreach (var name in new[] { "generation_config.json", "config.json" })
        {
            string path = Path.Combine(folder, name);
            if (!File.Exists(path))
            {
                continue;
            }

            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            if (document.RootElement.TryGetProperty("eos_token_id", out var eos))
            {
                return eos.ValueKind switch
                {
                    JsonValueKind.Number => new HashSet<int> { eos.GetInt32() },
                    JsonValueKind.Array => eos.EnumerateArray().Select(e => e.GetInt32()).ToHashSet(),
                    _ => new HashSet<int>(),
                };
            }
        }

        return new HashSet<int>();
    }

    private static Tokenizer FromJson(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = document.RootElement;
        if (!root.TryGetProperty("model", out var model) || !model.TryGetProperty("type", out var type) || type.GetString() != "BPE")
        {
            string kind = root.TryGetProperty("model", out var m) && m.TryGetProperty("type", out var t) ? t.ToString() : "none";
            throw new CliException($"{path}: model type '{kind}' is not supported; Soma reads BPE tokenizer.json files (or tokenizer.model).");
        }

        var vocab = model.GetProperty("vocab").EnumerateObject().Select(e => new KeyValuePair<string, int>(e.Name, e.Value.GetInt32())).ToList();
        var merges = model.TryGetProperty("merges", out var list)
            ? list.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Array ? $"{e[0].GetString()} {e[1].GetString()}" : e.GetString()!).ToList()
            : new List<string>();
        var special = root.TryGetProperty("added_tokens", out var added)
            ? added.EnumerateArray().ToDictionary(e => e.GetProperty("content").GetString()!, e => e.GetProperty("id").GetInt32())
            : new Dictionary<string, int>();
        string text = root.GetRawText();
        var options = new BpeOptions(vocab)
        {
            Merges = merges,
            SpecialTokens = special.Count > 0 ? special : null,
            ByteLevel = text.Contains("\"ByteLevel\"", StringComparison.Ordinal),
            PreTokenizer = SplitPattern(root) is { } pattern ? new RegexPreTokenizer(new Regex(pattern, RegexOptions.Compiled), special.Count > 0 ? special : null) : null,
        };
        return CliErrors.About("--model", () => BpeTokenizer.Create(options), path);
    }

    /// <summary>The regex of the first Split pre-tokenizer in <paramref name="root"/>'s pre_tokenizer, or null.</summary>
    private static string? SplitPattern(JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var candidates = pre.TryGetProperty("pretokenizers", out var sequence) && sequence.ValueKind == JsonValueKind.Array
            ? sequence.EnumerateArray().ToList()
            : new List<JsonElement> { pre };
        foreach (var candidate in candidates)
        {
            if (candidate.TryGetProperty("type", out var t) && t.GetString() == "Split"
                && candidate.TryGetProperty("pattern", out var pattern) && pattern.TryGetProperty("Regex", out var regex))
            {
                return regex.GetString();
            }
        }

        return null;
    }
}
