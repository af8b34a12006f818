using Soma.IO;
using Soma.Tests.Infrastructure;
using Soma.Tests.IO;

namespace Soma.Tests.Peers;

/// <summary>
/// Whole decoders against an independent peer: the same tiny random checkpoint as one ONNX graph run by ONNX Runtime
/// (<see cref="OnnxDecoderPeer"/>), and <see cref="SomaCausalLM"/> on the CPU accelerator, prefill and decode. Soma
/// layers run with alpha = 0 and a window shorter than the prompt, so the ring wraps; nothing here uses Soma's
/// reference as the expected value.
/// </summary>
public sealed class OnnxDecoderPeerTests(OnnxPeerEngineFixture fixture) : IClassFixture<OnnxPeerEngineFixture>, IDisposable
{
    private const int Window = 5;

    private static readonly int[] Prompt = { 3, 17, 0, 39, 25, 8, 8, 12, 31, 5, 22, 1, 36 };

    private readonly string root = Directory.CreateTempSubdirectory("soma-onnx-lm-").FullName;

    private readonly SomaEngine engine = fixture.Engine;

    private static SomaParameters Windowed => new(Window: Window, Gamma: [0.8f], Alpha: [0f]);

    /// <summary>Qwen2 (q/k/v biases, untied and tied), Llama with GQA and head_dim * H != D, Mistral with MQA, a hybrid.</summary>
    public static TheoryData<string> Models => new() { "qwen2", "qwen2-tied", "llama-gqa", "mistral-mqa", "llama-hybrid" };

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Theory]
    [MemberData(nameof(Models))]
    public void Logits_MatchOnnxRuntime_InPrefillAndDecode(string name)
    {
        var (spec, soma) = Case(name);
        var folder = spec.Write(Path.Combine(root, name));
        var weights = CausalLMWeights.Load(folder, soma);
        var expected = OnnxDecoderPeer.Logits(weights, Prompt);
        using var model = engine.LoadCausalLM(folder, soma);
        using var prefill = model.CreateSession();
        using var decode = model.CreateSession();
        int v = model.VocabSize;

        Tolerance.ShouldMatch(prefill.Prefill(Prompt), expected, $"{name}: Soma prefill vs ONNX Runtime");

        const int split = 3;
        var stepwise = new float[Prompt.Length * v];
        decode.Prefill(Prompt.AsSpan(0, split), stepwise);
        for (int t = split; t < Prompt.Length; t++)
        {
            decode.Decode(Prompt[t], stepwise.AsSpan(t * v, v));
        }

        Tolerance.ShouldMatch(stepwise, expected, $"{name}: Soma prefill {split} + decode vs ONNX Runtime");
    }

    [Fact]
    public void AnotherWindow_DiffersFromThePeer()
    {
        // The comparison above can fail: Soma with W + 1 is a different model from the peer's window of W keys.
        var (spec, soma) = Case("qwen2");
        var folder = spec.Write(Path.Combine(root, "wider"));
        var expected = OnnxDecoderPeer.Logits(CausalLMWeights.Load(folder, soma), Prompt);
        using var model = engine.LoadCausalLM(folder, soma with { Window = Window + 1 });
        using var session = model.CreateSession();

        var logits = session.Prefill(Prompt);

        logits.Zip(expected, (a, b) => Math.Abs(a - b)).Max().Should().BeGreaterThan(1e-3f, "a window of W + 1 keys gives other logits");
    }

    [Fact]
    public void SomaLayerWithAField_IsRefused_ThePeerHasNoFieldOperator()
    {
        var (spec, soma) = Case("llama-gqa");
        var weights = CausalLMWeights.Load(spec.Write(Path.Combine(root, "field")), soma with { Alpha = [0.5f] });

        FluentActions.Invoking(() => OnnxDecoderPeer.Logits(weights, Prompt))
            .Should().Throw<ArgumentException>().WithMessage("*alpha = 0 and include_current*");
    }

    /// <summary>Tiny checkpoints (head_dim 8: ONNX Runtime's GroupQueryAttention needs a multiple of 8) and Soma options.</summary>
    private static (FakeDecoder Spec, SomaParameters Soma) Case(string name) => name switch
    {
        "qwen2" => (new FakeDecoder { Architecture = "Qwen2ForCausalLM", Biases = true, D = 32, HeadDim = 8, Inter = 48, Seed = 41 }, Windowed),
        "qwen2-tied" => (new FakeDecoder { Architecture = "Qwen2ForCausalLM", Biases = true, Tied = true, D = 32, HeadDim = 8, Inter = 48, Seed = 42 }, Windowed),
        "llama-gqa" => (new FakeDecoder { D = 40, Heads = 6, KvHeads = 2, HeadDim = 8, Inter = 56, Seed = 43 }, Windowed),
        "mistral-mqa" => (new FakeDecoder { Architecture = "MistralForCausalLM", D = 32, Heads = 4, KvHeads = 1, HeadDim = 8, Inter = 40, Seed = 44 }, Windowed),
        "llama-hybrid" => (new FakeDecoder { D = 32, HeadDim = 8, Inter = 48, Layers = 3, Seed = 45 }, Windowed with { FullAttentionLayers = [1], KvCapacity = 32 }),
        _ => throw new ArgumentException($"unknown case {name}", nameof(name)),
    };
}
