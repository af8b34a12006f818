using System.Text.Json;
using Soma.Cli;
using Soma.IO;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.IO;

/// <summary>`soma forward` and `soma generate` in-process on a tiny checkpoint (and tokenizer) the test writes.</summary>
public sealed class CausalLMCliTests : IDisposable
{
    private const string Qwen2Split = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private readonly string folder = Directory.CreateTempSubdirectory("soma-lm-cli-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void Forward_WritesTheReferenceLogits_AndDecodeFromGivesTheSame()
    {
        var model = new FakeDecoder { Architecture = "Qwen2ForCausalLM", Biases = true }.Write(Path.Combine(folder, "m"));
        string soma = Path.Combine(folder, "soma.json");
        File.WriteAllText(soma, "{\"window\": 4, \"gamma\": 0.8, \"alpha\": 0.5}");
        long[] ids = [3, 17, 0, 39, 25, 8, 8, 12];
        string tokens = Path.Combine(folder, "t.npy");
        File.WriteAllBytes(tokens, NpyWriter.Bytes("<i8", "False", "(8,)", NpyWriter.I64(ids)));
        string all = Path.Combine(folder, "all.npy"), stepped = Path.Combine(folder, "stepped.npy");
        var output = new StringWriter();
        var error = new StringWriter();

        int rc1 = SomaCli.Invoke(["forward", "--model", model, "--soma", soma, "--tokens", tokens, "--output", all, "--accelerator", "cpu"], output, error);
        int rc2 = SomaCli.Invoke(["forward", "--model", model, "--soma", soma, "--tokens", tokens, "--output", stepped, "--accelerator", "cpu", "--decode-from", "3"], output, error);

        error.ToString().Should().BeEmpty();
        (rc1, rc2).Should().Be((0, 0));
        output.ToString().Should().Contain("8 tokens on cpu").And.Contain("decode 5 at").And.Contain("logits [8, 40]");
        var expected = CausalLMReference.Run(CausalLMWeights.Load(model, SomaParameters.Load(soma)), ids.Select(i => (int)i).ToArray());
        var (logits, shape) = NpyFile.Read(all);
        shape.Should().Equal(8, 40);
        Tolerance.ShouldMatch(logits, expected, "soma forward logits");
        Tolerance.ShouldMatch(NpyFile.Read(stepped).Data, expected, "soma forward --decode-from 3 logits");
    }

    [Fact]
    public void Forward_RefusesTokensOutsideTheVocabulary()
    {
        var model = new FakeDecoder().Write(Path.Combine(folder, "m"));
        string tokens = Path.Combine(folder, "t.npy");
        File.WriteAllBytes(tokens, NpyWriter.Bytes("<i4", "False", "(2,)", NpyWriter.I32(1, 40)));
        var error = new StringWriter();

        int rc = SomaCli.Invoke(["forward", "--model", model, "--tokens", tokens, "--output", Path.Combine(folder, "o.npy"), "--accelerator", "cpu"], new StringWriter(), error);

        rc.Should().Be(2);
        error.ToString().Should().Contain("--tokens").And.Contain("token 1 is 40").And.Contain("[0, 40)");
        File.Exists(Path.Combine(folder, "o.npy")).Should().BeFalse();
    }

    [Fact]
    public void Tokenizer_RoundTripsText_WithItsMerges()
    {
        var model = WriteGenerationCheckpoint();
        var tokenizer = CheckpointTokenizer.Load(model);

        var ids = tokenizer.EncodeToIds("hello hello world");

        ids.Should().Contain(258, "'he' + 'll' merge into one token").And.Contain(259, "' ' + 'w' merge");
        tokenizer.Decode(ids).Should().Be("hello hello world");
        CheckpointTokenizer.StopTokens(model).Should().BeEquivalentTo(new[] { 299 });
    }

    [Fact]
    public void Generate_Greedy_IsDeterministic_AndFollowsTheArgmaxOfTheLogits()
    {
        var model = WriteGenerationCheckpoint();
        string soma = Path.Combine(folder, "soma.json");
        File.WriteAllText(soma, "{\"window\": 4, \"alpha\": 0.3}");
        var outputs = new List<string>();
        for (int run = 0; run < 2; run++)
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int rc = SomaCli.Invoke(["generate", "--model", model, "--soma", soma, "--prompt", "hello world", "--max-new-tokens", "6", "--accelerator", "cpu"], output, error);
            error.ToString().Should().BeEmpty();
            rc.Should().Be(0);
            outputs.Add(output.ToString());
        }

        outputs[0].Should().Contain("tokens/s").And.Contain("state 640 bytes at position").And.Contain("a KV cache would hold");
        Text(outputs[0]).Should().Be(Text(outputs[1]), "greedy generation is deterministic");

        // The same tokens, step by step, from the argmax of the reference's logits.
        var tokenizer = CheckpointTokenizer.Load(model);
        var weights = CausalLMWeights.Load(model, SomaParameters.Load(soma));
        var ids = tokenizer.EncodeToIds("hello world").ToList();
        int prompt = ids.Count;
        for (int step = 0; step < 6; step++)
        {
            var logits = CausalLMReference.Run(weights, ids.ToArray());
            int v = weights.VocabSize;
            int best = 0;
            for (int i = 1; i < v; i++)
            {
                best = logits[(ids.Count - 1) * v + i] > logits[(ids.Count - 1) * v + best] ? i : best;
            }

            if (best == 299)
            {
                break;
            }

            ids.Add(best);
        }

        Text(outputs[0]).Should().Be(tokenizer.Decode(ids.Skip(prompt)));
    }

    [Fact]
    public void Generate_Sampled_IsSeeded_AndBadArgumentsAreOneLine()
    {
        var model = WriteGenerationCheckpoint();
        string Run(string prompt, params string[] extra)
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int rc = SomaCli.Invoke(["generate", "--model", model, "--prompt", prompt, "--max-new-tokens", "5", "--accelerator", "cpu", .. extra], output, error);
            return rc == 0 ? Text(output.ToString()) : $"rc {rc}: {error}";
        }

        string first = Run("hello", "--temperature", "3", "--top-k", "50", "--seed", "4");
        first.Should().NotStartWith("rc");
        Run("hello", "--temperature", "3", "--top-k", "50", "--seed", "4").Should().Be(first, "the same seed samples the same tokens");
        Run("hello", "--top-p", "0").Should().Contain("rc 2").And.Contain("topP must lie in (0, 1]");
        Run("").Should().Contain("rc 2").And.Contain("--prompt encodes to no tokens");
        File.Delete(Path.Combine(model, "tokenizer.json"));
        Run("hello").Should().Contain("rc 2").And.Contain("neither tokenizer.json nor tokenizer.model");
    }

    [Fact]
    public void Chat_SavesAndResumesTheConversation()
    {
        var model = WriteGenerationCheckpoint();
        string state = Path.Combine(folder, "chat.soma");
        string Chat(string turns, params string[] extra)
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int rc = SomaCli.Invoke(
                ["chat", "--model", model, "--max-new-tokens", "4", "--accelerator", "cpu", .. extra], output, error, input: new StringReader(turns));
            error.ToString().Should().BeEmpty();
            rc.Should().Be(0);
            return output.ToString();
        }

        string first = Chat("hello\n/save " + state + "\nworld\n/reset\n/quit\nnever read\n");
        string resumed = Chat("world\n", "--resume", state);

        first.Should().StartWith("position 0; state ").And.Contain("saved position").And.Contain("position 0" + Environment.NewLine);
        first.Should().NotContain("never read");
        string saved = first.Split("saved position ")[1].Split(' ')[0];
        resumed.Should().StartWith($"position {saved}; state ");
        Turn(resumed, 0).Should().Be(Turn(first, 1), "the resumed conversation continues exactly as the saved one did");
    }

    /// <summary>The text of turn <paramref name="index"/> in a chat's output (what precedes its "[position" line).</summary>
    private static string Turn(string output, int index)
    {
        var lines = output.Split(Environment.NewLine);
        var ends = lines.Select((l, i) => (l, i)).Where(x => x.l.StartsWith("[position ", StringComparison.Ordinal)).Select(x => x.i).ToArray();
        return lines[ends[index] - 1];
    }

    /// <summary>The generated text: what `generate` streamed before its closing line of figures.</summary>
    private static string Text(string output) => output[..output.LastIndexOf(Environment.NewLine + "prefill ", StringComparison.Ordinal)];

    /// <summary>A checkpoint with V = 300 and a byte-level BPE tokenizer.json: 256 byte tokens, three merges, one end token.</summary>
    private string WriteGenerationCheckpoint()
    {
        var model = new FakeDecoder { Architecture = "Qwen2ForCausalLM", Biases = true, Vocab = 300, Seed = 21 }.Write(Path.Combine(folder, "g"));
        var vocab = new Dictionary<string, int>();
        var bytes = ByteLevelAlphabet();
        for (int b = 0; b < 256; b++)
        {
            vocab[bytes[b].ToString()] = b;
        }

        vocab["he"] = 256;
        vocab["ll"] = 257;
        vocab["hell"] = 258;
        vocab["\u0120w"] = 259;
        var tokenizer = new
        {
            version = "1.0",
            added_tokens = new[] { new { id = 299, content = "<|end|>", special = true } },
            pre_tokenizer = new
            {
                type = "Sequence",
                pretokenizers = new object[]
                {
                    new { type = "Split", pattern = new { Regex = Qwen2Split }, behavior = "Isolated", invert = false },
                    new { type = "ByteLevel", add_prefix_space = false, trim_offsets = false, use_regex = false },
                },
            },
            decoder = new { type = "ByteLevel" },
            model = new { type = "BPE", vocab, merges = new[] { "h e", "l l", "he ll", "\u0120 w" } },
        };
        File.WriteAllText(Path.Combine(model, "tokenizer.json"), JsonSerializer.Serialize(tokenizer));
        File.WriteAllText(Path.Combine(model, "generation_config.json"), "{\"eos_token_id\": 299}");
        return model;
    }

    /// <summary>GPT-2's byte-to-character map: printable bytes stand for themselves, the rest shift to 256 and up.</summary>
    private static char[] ByteLevelAlphabet()
    {
        var map = new char[256];
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + shifted++);
        }

        return map;
    }
}
