using Soma;
using Soma.IO;
using Soma.Reference;
using Soma.Tests.Infrastructure;
using Soma.Tests.IO;

namespace Soma.Tests.Suites;

/// <summary>
/// Whole decoders (Llama, Qwen2, Mistral) from tiny random checkpoints the tests write: logits against the
/// double-precision whole-model reference, prefill against decode, the alpha = 0 identity with the original model,
/// batches, snapshots and bad input.
/// </summary>
public abstract class CausalLMSuite : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("soma-lm-").FullName;

    protected CausalLMSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    private static readonly int[] Prompt = { 3, 17, 0, 39, 25, 8, 8, 12, 31, 5, 22 };

    private static SomaParameters Soma => new(Window: 4, Gamma: [0.8f], Alpha: [0.5f]);

    /// <summary>The checkpoint families and shapes the issue names.</summary>
    public static TheoryData<string> Families => new() { "llama", "qwen2", "mistral", "tied", "mqa", "mha", "headdim", "f16", "bf16" };

    public void Dispose()
    {
        Directory.Delete(root, recursive: true);
        GC.SuppressFinalize(this);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Logits_MatchTheDoubleReference(string family)
    {
        var folder = Checkpoint(family);
        var weights = CausalLMWeights.Load(folder, Soma);
        var expected = CausalLMReference.Run(weights, Prompt);
        using var model = Engine.LoadCausalLM(folder, Soma);
        using var session = model.CreateSession();

        var logits = session.Prefill(Prompt);

        Tolerance.ShouldMatch(logits, expected, $"{family} logits");
        session.Position.Should().Be(Prompt.Length);
    }

    [Theory]
    [InlineData("bf16", SomaStorageType.BFloat16)]
    [InlineData("f16", SomaStorageType.Float16)]
    public void SixteenBitCheckpoints_KeepTheirType_AndHalveTheDecoderWeights(string family, SomaStorageType type)
    {
        var weights = CausalLMWeights.Load(Checkpoint(family), Soma);
        weights.ProjectionType.Should().Be(type, "the embedding, MLP and LM head are all stored as that type");
        var widened = weights with { ProjectionType = SomaStorageType.Float32 };
        int d = weights.ModelDim, v = weights.VocabSize, inter = weights.Config.IntermediateSize;
        long matrixElements = (long)v * d * (weights.LmHead is null ? 1 : 2) + (long)weights.Layers.Count * 3 * inter * d;

        long before = Engine.AllocatedBytes;
        using var stored = Engine.CreateCausalLM(weights);
        long storedBytes = Engine.AllocatedBytes - before;
        using var fp32 = Engine.CreateCausalLM(widened);
        long fp32Bytes = Engine.AllocatedBytes - before - storedBytes;
        using var a = stored.CreateSession();
        using var b = fp32.CreateSession();

        var logits = a.Prefill(Prompt);

        Tolerance.ShouldMatch(logits, b.Prefill(Prompt), $"{family} decoder weights against the same values in fp32", 1e-6);
        Tolerance.ShouldMatch(logits, CausalLMReference.Run(weights, Prompt), $"{family} logits against the reference fed the stored values");
        fp32.DecoderWeightBytes.Should().Be(stored.DecoderWeightBytes + 2 * matrixElements, "each matrix element takes 2 bytes instead of 4");
        (fp32Bytes - storedBytes).Should().Be(2 * matrixElements, "the device holds the decoder's matrices in 16 bits");
        a.DecodeGreedy(2).Should().Be(b.DecodeGreedy(2));
    }

    [Fact]
    public void ATiedHead_ReadsTheEmbeddingBuffer_WithoutASecondCopy()
    {
        // Weights are stored row-major [out, in] as the checkpoint holds them, so the LM head of a tied model is the
        // embedding table itself: the same model with the head given as its own copy holds V x D more elements.
        var weights = CausalLMWeights.Load(Checkpoint("tied"), Soma);
        weights.LmHead.Should().BeNull();
        long before = Engine.AllocatedBytes;
        using var tied = Engine.CreateCausalLM(weights);
        long tiedBytes = Engine.AllocatedBytes - before;
        using var untied = Engine.CreateCausalLM(weights with { LmHead = weights.Embedding.ToArray() });
        long untiedBytes = Engine.AllocatedBytes - before - tiedBytes;
        using var a = tied.CreateSession();
        using var b = untied.CreateSession();

        long headBytes = (long)weights.VocabSize * weights.ModelDim * sizeof(float);
        (untiedBytes - tiedBytes).Should().Be(headBytes, "a tied head allocates nothing: it reads the embedding buffer");
        (untied.DecoderWeightBytes - tied.DecoderWeightBytes).Should().Be(headBytes);
        a.Prefill(Prompt).Should().Equal(b.Prefill(Prompt), "the head reads the same values either way");
    }

    [Fact]
    public void TheLayersWeightStorage_ChoosesTheDecodersToo()
    {
        var weights = CausalLMWeights.Load(Checkpoint("tied"), Soma);
        weights.ProjectionType.Should().Be(SomaStorageType.Float32);
        var layers = weights.Layers.Select(l => l with { Options = l.Options with { WeightStorage = SomaStorageType.BFloat16 } }).ToArray();
        using var fp32 = Engine.CreateCausalLM(weights);
        using var bf16 = Engine.CreateCausalLM(weights with { Layers = layers });
        using var session = bf16.CreateSession();

        var logits = session.Prefill(Prompt);

        bf16.DecoderWeightBytes.Should().BeLessThan(fp32.DecoderWeightBytes * 3 / 4, "WeightStorage BFloat16 stores the decoder's matrices in 16 bits");
        var rounded = weights with
        {
            Embedding = ToBFloat16(weights.Embedding),
            Layers = layers.Select(l => l with { Gate = ToBFloat16(l.Gate), Up = ToBFloat16(l.Up), Down = ToBFloat16(l.Down) }).ToArray(),
        };
        Tolerance.ShouldMatch(logits, CausalLMReference.Run(rounded, Prompt), "logits against the reference fed the bf16-rounded weights");
    }

    [Fact]
    public void TemperatureSampling_DrawsOnTheDevice_RepeatablyForASeed()
    {
        using var model = Engine.LoadCausalLM(Checkpoint("llama"), Soma);
        int[] Generate(SamplingOptions options, int count)
        {
            using var session = model.CreateSession();
            var sampler = new SomaSampler(options);
            long bytes = options.TopK == 0 ? sizeof(int) : options.TopK * (sizeof(float) + sizeof(int));
            var tokens = new List<int> { session.PrefillNext(Prompt, sampler) };
            model.LastDownloadBytes.Should().Be(bytes, "greedy and temperature draws are made on the device, top-k's among k pairs");
            while (tokens.Count < count)
            {
                tokens.Add(session.DecodeNext(tokens[^1], sampler));
                model.LastDownloadBytes.Should().Be(bytes);
            }

            return tokens.ToArray();
        }

        var first = Generate(new SamplingOptions(temperature: 1.5, seed: 5), 8);
        Generate(new SamplingOptions(temperature: 1.5, seed: 5), 8).Should().Equal(first, "the same seed draws the same tokens");
        first.Should().OnlyContain(t => t >= 0 && t < model.VocabSize);
        Generate(new SamplingOptions(temperature: 1e-5, seed: 5), 6).Should().Equal(Generate(new SamplingOptions(), 6), "a vanishing temperature is greedy");
        Generate(new SamplingOptions(temperature: 1.5, topK: 3, seed: 5), 2).Should().HaveCount(2);
    }

    [Fact]
    public void TopKSampling_SelectsOnTheDevice_AndDrawsWhatTheHostWouldFromAllLogits()
    {
        using var model = Engine.LoadCausalLM(Checkpoint("qwen2"), Soma);
        using var device = model.CreateSession();
        using var host = model.CreateSession();
        var options = new SamplingOptions(temperature: 4, topK: 3, topP: 0.9, seed: 9);
        var (onDevice, onHost) = (new SomaSampler(options), new SomaSampler(options));
        var logits = new float[model.VocabSize];
        host.PrefillLast(Prompt, logits);
        int token = device.PrefillNext(Prompt, onDevice);
        for (int step = 0; step < 8; step++)
        {
            model.LastDownloadBytes.Should().Be(3 * 8, "three (value, id) pairs travel back, not V floats");
            var best = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(3).ToArray();
            best.Should().Contain(token, $"step {step} draws among the 3 largest logits");
            token.Should().Be(onHost.Sample(logits), $"step {step} draws what the host draws from all V logits");
            host.Decode(token, logits);
            token = device.DecodeNext(token, onDevice);
        }
    }

    [Fact]
    public void PrefillThenDecode_EqualsOnePrefill_AndGreedyIsTheArgmax()
    {
        var folder = Checkpoint("qwen2");
        var expected = CausalLMReference.Run(CausalLMWeights.Load(folder, Soma), Prompt);
        using var model = Engine.LoadCausalLM(folder, Soma);
        using var session = model.CreateSession();
        using var greedy = model.CreateSession();
        int v = model.VocabSize;

        var logits = new float[Prompt.Length * v];
        session.Prefill(Prompt.AsSpan(0, 5), logits);
        int next = greedy.PrefillGreedy(Prompt.AsSpan(0, 5));
        next.Should().Be(ArgMax(logits.AsSpan(4 * v, v)), "greedy prefill picks the last row's argmax on the device");
        for (int t = 5; t < Prompt.Length; t++)
        {
            session.Decode(Prompt[t], logits.AsSpan(t * v, v));
            next = greedy.DecodeGreedy(Prompt[t]);
            next.Should().Be(ArgMax(logits.AsSpan(t * v, v)), $"greedy decode at {t} picks the argmax");
        }

        Tolerance.ShouldMatch(logits, expected, "prefill 5 + decode 6");
        var last = new float[v];
        using var third = model.CreateSession();
        third.PrefillLast(Prompt, last);
        Tolerance.ShouldMatch(last, expected.AsSpan((Prompt.Length - 1) * v, v), "last-row logits");
    }

    [Fact]
    public void MultiPassPrefill_AndChunkedPrompts_EqualOnePrefill()
    {
        var folder = Checkpoint("llama");
        var loaded = CausalLMWeights.Load(folder, Soma);
        var weights = loaded with
        {
            Layers = loaded.Layers.Select(l => l with
            {
                Options = new SomaLayerOptions(
                    l.Options.ModelDim, l.Options.Heads, l.Options.KvHeads, l.Options.HeadDim, l.Options.Window, l.Options.IncludeCurrent,
                    l.Options.RopeTheta, l.Options.Scale, maxChunkTokens: 4),
            }).ToList(),
        };
        var expected = CausalLMReference.Run(weights, Prompt);
        using var model = Engine.CreateCausalLM(weights);
        using var whole = model.CreateSession();
        using var chunked = model.CreateSession();
        int v = model.VocabSize;

        Tolerance.ShouldMatch(whole.Prefill(Prompt), expected, "11 tokens in passes of 4");
        var logits = new float[Prompt.Length * v];
        chunked.Prefill(Prompt.AsSpan(0, 6), logits);
        chunked.Prefill(Prompt.AsSpan(6), logits.AsSpan(6 * v));
        Tolerance.ShouldMatch(logits, expected, "prefill 6 then prefill 5");
    }

    [Fact]
    public void ADecodeStep_KeepsItsRowsOnTheDevice()
    {
        using var model = Engine.LoadCausalLM(Checkpoint("llama"), Soma);
        using var session = model.CreateSession();
        session.Prefill(Prompt.AsSpan(0, 3));
        session.DecodeGreedy(4);

        var profile = model.LastCallProfile!;
        profile.Kind.Should().Be(SomaCallKind.Decode);
        profile.Downloads.Should().Be(0, "no layer downloads its rows");
        profile.HostWaits.Should().Be(1, "a whole decode step, layers, norms, MLPs and LM head, waits once");
    }

    [Fact]
    public void AFailureInAnyLayer_LeavesTheConversationAsItWas()
    {
        using var model = Engine.LoadCausalLM(Checkpoint("qwen2"), Soma);
        using var session = model.CreateSession();
        using var twin = model.CreateSession();
        session.Prefill(Prompt.AsSpan(0, 4));
        twin.Prefill(Prompt.AsSpan(0, 4));
        model.Layers[1].BeforeStage = stage => throw new InvalidOperationException($"injected at {stage}");

        session.Invoking(s => s.Decode(5)).Should().Throw<InvalidOperationException>().WithMessage("injected*");
        session.Invoking(s => s.Prefill(Prompt.AsSpan(0, 3))).Should().Throw<InvalidOperationException>().WithMessage("injected*");
        model.Layers[1].BeforeStage = null;

        session.Position.Should().Be(4);
        Tolerance.ShouldMatch(session.Decode(5), twin.Decode(5).Select(x => (double)x).ToArray(), "after two failed calls", 1e-6);
    }

    [Fact]
    public void AlphaZero_WideWindow_EqualsTheOriginalModel()
    {
        var folder = Checkpoint("mistral");
        var soma = new SomaParameters(Window: 64, Alpha: [0f]);
        var original = CausalLMReference.Run(CausalLMWeights.Load(folder, soma), Prompt, plainCausal: true);
        using var model = Engine.LoadCausalLM(folder, soma);
        using var session = model.CreateSession();

        Tolerance.ShouldMatch(session.Prefill(Prompt), original, "Soma with alpha 0 and W >= n");

        using var standard = Engine.LoadCausalLM(folder, Soma with { AllFullAttention = true, KvCapacity = 32 });
        using var baseline = standard.CreateSession();
        standard.Layers.Should().OnlyContain(l => l.IsStandardAttention);
        Tolerance.ShouldMatch(baseline.Prefill(Prompt), original, "every layer standard attention");
    }

    [Fact]
    public void HybridLayers_MatchTheReference()
    {
        var folder = Checkpoint("llama");
        var soma = Soma with { FullAttentionLayers = [1], KvCapacity = 16 };
        var weights = CausalLMWeights.Load(folder, soma);
        weights.Layers.Select(l => l.FullAttention).Should().Equal(false, true);
        using var model = Engine.LoadCausalLM(folder, soma);
        using var session = model.CreateSession();

        Tolerance.ShouldMatch(session.Prefill(Prompt), CausalLMReference.Run(weights, Prompt), "Soma layer 0, full attention layer 1");
        model.Layers[1].IsStandardAttention.Should().BeTrue();
    }

    [Fact]
    public void PerLayerOptions_OverrideTheSharedOnes()
    {
        var folder = Checkpoint("qwen2");
        string path = Path.Combine(root, "per-layer.json");
        File.WriteAllText(path, "{\"window\": 4, \"alpha\": 0.5, \"layers\": {\"1\": {\"window\": 2, \"alpha\": [-0.4], \"include_current\": false}}}");
        var soma = SomaParameters.Load(path);
        var weights = CausalLMWeights.Load(folder, soma);
        weights.Layers[0].Options.Window.Should().Be(4);
        weights.Layers[1].Options.Window.Should().Be(2);
        weights.Layers[1].Options.IncludeCurrent.Should().BeFalse();
        weights.Layers[1].Attention.Alpha.Should().OnlyContain(a => a == -0.4f);
        using var model = Engine.LoadCausalLM(folder, soma);
        using var session = model.CreateSession();

        Tolerance.ShouldMatch(session.Prefill(Prompt), CausalLMReference.Run(weights, Prompt), "logits with a per-layer override");

        File.WriteAllText(path, "{\"layers\": {\"0\": {\"kv_capacity\": 8}}}");
        FluentActions.Invoking(() => SomaParameters.Load(path)).Should().Throw<InvalidDataException>().WithMessage("*unknown key 'layers.0.kv_capacity'*");
        File.WriteAllText(path, "{\"layers\": {\"7\": {\"window\": 8}}}");
        Engine.Invoking(e => e.LoadCausalLM(folder, SomaParameters.Load(path))).Should().Throw<ArgumentException>().WithMessage("*layer 7*2 (num_hidden_layers)*");
    }

    [Fact]
    public void BatchedDecode_EqualsAlone_AndSnapshotsRoundTrip()
    {
        var folder = Checkpoint("qwen2");
        using var model = Engine.LoadCausalLM(folder, Soma);
        using var pool = model.CreatePool(2);
        var a = pool.OpenSession();
        var b = pool.OpenSession();
        using var aloneA = model.CreateSession();
        using var aloneB = model.CreateSession();
        int v = model.VocabSize;
        a.Prefill(Prompt.AsSpan(0, 3));
        aloneA.Prefill(Prompt.AsSpan(0, 3));
        b.Prefill(Prompt.AsSpan(2, 6));
        aloneB.Prefill(Prompt.AsSpan(2, 6));

        var both = new float[2 * v];
        model.DecodeBatch([a, b], [7, 9], both);
        Tolerance.ShouldMatch(both.AsSpan(0, v), aloneA.Decode(7), "batch row 0");
        Tolerance.ShouldMatch(both.AsSpan(v, v), aloneB.Decode(9), "batch row 1");
        var next = new int[2];
        model.DecodeBatchGreedy([a, b], [1, 2], next);
        next.Should().Equal(aloneA.DecodeGreedy(1), aloneB.DecodeGreedy(2));

        using var saved = new MemoryStream();
        a.SaveState(saved);
        var continued = a.Decode(11);
        a.Reset();
        a.Position.Should().Be(0);
        saved.Position = 0;
        a.LoadState(saved);
        a.Position.Should().Be(5);
        Tolerance.ShouldMatch(a.Decode(11), continued.Select(x => (double)x).ToArray(), "decode after a restored snapshot", 1e-6);
    }

    [Fact]
    public void BadTokens_AreRefused_BeforeAnythingChanges()
    {
        using var model = Engine.LoadCausalLM(Checkpoint("llama"), Soma);
        using var session = model.CreateSession();
        session.Prefill(Prompt.AsSpan(0, 2));
        var before = session.Decode(4);

        session.Invoking(s => s.Prefill([1, 40])).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*tokens[1] is 40*[0, 40)*");
        session.Invoking(s => s.Decode(-1)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*token*[0, 40)*");
        session.Invoking(s => s.Prefill(ReadOnlySpan<int>.Empty)).Should().Throw<ArgumentException>().WithMessage("*empty*");
        session.Invoking(s => s.Decode(1, new float[39])).Should().Throw<ArgumentException>().WithMessage("*40*");
        session.Position.Should().Be(3);

        using var fresh = model.CreateSession();
        fresh.Prefill(Prompt.AsSpan(0, 2));
        Tolerance.ShouldMatch(fresh.Decode(4), before.Select(x => (double)x).ToArray(), "the same conversation after refused calls", 1e-6);
    }

    [Theory]
    [InlineData("architecture", "*architectures 'GPT2LMHeadModel' is not supported*")]
    [InlineData("activation", "*hidden_act 'gelu'*")]
    [InlineData("rope_scaling", "*rope_scaling 'llama3'*")]
    [InlineData("experts", "*num_local_experts*mixture of experts*")]
    [InlineData("missing", "*no tensor 'model.layers.1.mlp.up_proj.weight'*")]
    [InlineData("shape", "*'model.layers.0.mlp.down_proj.weight' has shape [16, 23]*[16, 24]*")]
    [InlineData("qk_norm", "*q_norm/k_norm*")]
    [InlineData("vocab", "*'vocab_size' must be a positive integer*")]
    [InlineData("bias", "*no tensor 'model.layers.0.self_attn.q_proj.bias', yet config.json sets attention_bias true*")]
    public void BadCheckpoints_AreOneClearError_AndLoadNothing(string what, string message)
    {
        var spec = what switch
        {
            "architecture" => new FakeDecoder { Architecture = "GPT2LMHeadModel" },
            "activation" => new FakeDecoder { Config = new Dictionary<string, object?> { ["hidden_act"] = "gelu" } },
            "rope_scaling" => new FakeDecoder { Config = new Dictionary<string, object?> { ["rope_scaling"] = new { rope_type = "llama3", factor = 8.0 } } },
            "experts" => new FakeDecoder { Config = new Dictionary<string, object?> { ["num_local_experts"] = 8 } },
            "missing" => new FakeDecoder { Omit = ["model.layers.1.mlp.up_proj.weight"] },
            "shape" => new FakeDecoder { Reshape = new Dictionary<string, long[]> { ["model.layers.0.mlp.down_proj.weight"] = [16, 23] } },
            "vocab" => new FakeDecoder { Config = new Dictionary<string, object?> { ["vocab_size"] = null } },
            "bias" => new FakeDecoder { Config = new Dictionary<string, object?> { ["attention_bias"] = true } },
            _ => new FakeDecoder(),
        };
        var folder = spec.Write(Path.Combine(root, what));
        if (what == "qk_norm")
        {
            AddQkNorm(folder);
        }

        long bytes = Engine.AllocatedBytes;
        Engine.Invoking(e => e.LoadCausalLM(folder, Soma)).Should().Throw<InvalidDataException>().WithMessage(message);
        Engine.AllocatedBytes.Should().Be(bytes, "a refused checkpoint uploads nothing");
    }

    [Fact]
    public void DisposingTheModel_ReturnsEveryDeviceByte()
    {
        long bytes = Engine.AllocatedBytes;
        var model = Engine.LoadCausalLM(Checkpoint("tied"), Soma);
        var session = model.CreateSession();
        session.Prefill(Prompt);
        session.DecodeGreedy(3);
        model.StateBytes.Should().Be(model.Layers.Sum(l => l.StateBytes));
        model.Dispose();
        Engine.AllocatedBytes.Should().Be(bytes);
        global::Soma.Internal.KernelCatalog.All.Skip(global::Soma.Internal.KernelSet.LoadedAtStart).Select(e => e.Name).Should().BeEquivalentTo(
            new[] { "row-gather", "rms-norm", "gate-up", "gate-up-gemv", "gate-up-reduce", "down", "down-gemv", "down-reduce", "residual-add", "argmax", "top-k" },
            "the kernels an engine compiles with its first decoder are the catalog's last");
        session.Invoking(s => s.Decode(1)).Should().Throw<ObjectDisposedException>();
    }

    private static float[] ToBFloat16(float[] values) =>
        values.Select(x => global::Soma.Internal.StorageTypes.Widen(global::Soma.Internal.StorageTypes.Narrow(x, SomaStorageType.BFloat16), SomaStorageType.BFloat16)).ToArray();

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            best = values[i] > values[best] ? i : best;
        }

        return best;
    }

    private static void AddQkNorm(string folder)
    {
        // Rewrite the checkpoint with one q_norm tensor added.
        var path = Path.Combine(folder, "model.safetensors");
        using (var file = SafetensorsFile.Open(path))
        {
            var tensors = file.Tensors.Values.OrderBy(t => t.Begin)
                .Select(t => (t.Name, "F32", t.Shape.ToArray(), SafetensorsWriter.F32(file.ReadFloats(t.Name)))).ToList();
            tensors.Add(("model.layers.0.self_attn.q_norm.weight", "F32", [4], SafetensorsWriter.F32(1, 1, 1, 1)));
            SafetensorsWriter.Write(path + ".new", tensors);
        }

        File.Move(path + ".new", path, overwrite: true);
    }

    private string Checkpoint(string family) => (family switch
    {
        "llama" => new FakeDecoder(),
        "qwen2" => new FakeDecoder { Architecture = "Qwen2ForCausalLM", Biases = true, Seed = 11 },
        "mistral" => new FakeDecoder { Architecture = "MistralForCausalLM", Seed = 12, Config = new Dictionary<string, object?> { ["sliding_window"] = 4096 } },
        "tied" => new FakeDecoder { Architecture = "Qwen2ForCausalLM", Tied = true, Biases = true, Seed = 13 },
        "mqa" => new FakeDecoder { KvHeads = 1, Seed = 14 },
        "mha" => new FakeDecoder { KvHeads = 4, Seed = 15 },
        "headdim" => new FakeDecoder { HeadDim = 6, Seed = 16 },
        "f16" => new FakeDecoder { Dtype = "F16", Seed = 17 },
        "bf16" => new FakeDecoder { Architecture = "Qwen2ForCausalLM", Biases = true, Dtype = "BF16", Seed = 18 },
        _ => throw new ArgumentException(family),
    }).Write(Path.Combine(root, family));
}
