using System.Text.Json;
using Soma;
using Soma.IO;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.IO;

/// <summary>Loading one attention layer of a Hugging Face-style checkpoint that the test writes (single file and sharded).</summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("soma-ckpt-").FullName;

    [Theory]
    [InlineData(false, "F16")]
    [InlineData(true, "BF16")]
    public void LoadedLayer_HasTheCheckpointsWeights_AndRunsLikeTheReference(bool sharded, string halfDtype)
    {
        // A GQA model with Qwen2-style q/k/v biases; layer 1's k_proj is stored as F16 or BF16.
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 5, ropeTheta: 1000.0);
        var layers = new[] { TestData.Weights(o, seed: 160, biases: true), TestData.Weights(o, seed: 161, biases: true) };
        FakeCheckpoint.Write(folder, layers, sharded, halfKey: "model.layers.1.self_attn.k_proj.weight", halfDtype: halfDtype);
        var soma = new SomaParameters(Window: 5, Gamma: new[] { 0.8f, 0.7f }, Alpha: new[] { 0.5f });

        using var checkpoint = HuggingFaceCheckpoint.Open(folder);
        var (options, weights) = checkpoint.LoadAttentionLayer(1, soma);

        options.Should().BeEquivalentTo(o, c => c.Excluding(x => x.MaxChunkTokens));
        weights.Wq.Should().Equal(layers[1].Wq);
        weights.Wk.Should().Equal(layers[1].Wk.Select(v => halfDtype == "F16" ? (float)(Half)v : SafetensorsWriter.RoundBF16(v)));
        weights.Wk.Should().NotEqual(layers[1].Wk, "the 16-bit tensor rounds");
        weights.Bv.Should().Equal(layers[1].Bv!);
        weights.Bo.Should().BeNull("o_proj has no bias in this checkpoint");
        weights.Gamma.Should().Equal(0.8f, 0.7f);
        weights.Alpha.Should().Equal(0.5f, 0.5f, 0.5f, 0.5f);

        var x = TestData.Inputs(o.ModelDim, 9, seed: 162);
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu));
        using var layer = engine.CreateLayer(options, weights);
        using var session = layer.CreateSession();
        var reference = new SomaReference(options, weights);
        Tolerance.ShouldMatch(session.Prefill(x), reference.Run(reference.CreateState(), x), "y of the loaded layer");
    }

    [Fact]
    public void ShapesThatDisagreeWithConfig_AndMissingLayers_AreClearErrors()
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 5);
        WriteCheckpoint(new[] { TestData.Weights(o, seed: 163) }, sharded: false, halfKey: null, headsInConfig: 2);

        using var checkpoint = HuggingFaceCheckpoint.Open(folder);
        Action wrongShape = () => checkpoint.LoadAttentionLayer(0, new SomaParameters());
        Action noSuchLayer = () => checkpoint.LoadAttentionLayer(1, new SomaParameters());

        wrongShape.Should().Throw<InvalidDataException>().WithMessage("*'model.layers.0.self_attn.q_proj.weight' has shape [16, 12]; config.json implies [8, 12]*");
        noSuchLayer.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("layer");
        Action noConfig = () => HuggingFaceCheckpoint.Open(Path.Combine(folder, "missing"));
        noConfig.Should().Throw<FileNotFoundException>().WithMessage("*config.json*");
    }

    [Fact]
    public void SomaParameters_ReadNumbersOrLists_AndRejectUnknownKeysAndWrongTypes()
    {
        string path = Path.Combine(folder, "soma.json");
        File.WriteAllText(path, "{\"window\": 64, \"include_current\": false, \"gamma\": 0.95, \"alpha\": [0.1, 0.2], \"rope\": false, \"scale\": null}");
        var p = SomaParameters.Load(path);
        p.Window.Should().Be(64);
        p.IncludeCurrent.Should().BeFalse();
        p.GammaFor(3).Should().Equal(0.95f, 0.95f, 0.95f);
        p.AlphaFor(2).Should().Equal(0.1f, 0.2f);
        Action wrongCount = () => p.AlphaFor(4);
        wrongCount.Should().Throw<ArgumentException>().WithMessage("*alpha has 2 values; expected 1 or one per head (4)*");

        File.WriteAllText(path, "{\"windw\": 64}");
        Action unknown = () => SomaParameters.Load(path);
        unknown.Should().Throw<InvalidDataException>().WithMessage("*unknown key 'windw'*");
        File.WriteAllText(path, "{\"window\": \"big\"}");
        Action wrongType = () => SomaParameters.Load(path);
        wrongType.Should().Throw<InvalidDataException>().WithMessage("*'window' has the wrong type*");
    }

    [Theory]
    [InlineData("{}", 0, 4096, 1000.0)] // Mistral-style: sliding_window on every layer
    [InlineData("{\"use_sliding_window\": false}", 1, 256, 1000.0)] // Qwen2 with the window off: Soma's default
    [InlineData("{\"use_sliding_window\": true, \"max_window_layers\": 1}", 0, 256, 1000.0)] // Qwen2: layers below max_window_layers are full
    [InlineData("{\"use_sliding_window\": true, \"max_window_layers\": 1}", 1, 4096, 1000.0)]
    [InlineData("{\"layer_types\": [\"full_attention\", \"sliding_attention\"]}", 0, 256, 1000.0)]
    [InlineData("{\"layer_types\": [\"full_attention\", \"sliding_attention\"]}", 1, 4096, 1000.0)]
    [InlineData("{\"sliding_window\": null, \"rope_theta\": null}", 0, 256, 10000.0)] // Llama-style without rope_theta: RoPE at 10000
    [InlineData("{\"rope_theta\": null, \"rope_parameters\": {\"rope_theta\": 500000.0, \"rope_type\": \"default\"}}", 0, 4096, 500000.0)] // transformers 5
    public void DefaultsFollowTheConfig_WindowPerLayerAndRopeTheta(string config, int layer, int window, double theta)
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 5);
        var extra = JsonSerializer.Deserialize<Dictionary<string, object?>>(config)!;
        FakeCheckpoint.Write(folder, new[] { TestData.Weights(o, seed: 164), TestData.Weights(o, seed: 165) }, sharded: false, halfKey: null, config: extra);

        using var checkpoint = HuggingFaceCheckpoint.Open(folder);
        var (options, _) = checkpoint.LoadAttentionLayer(layer, new SomaParameters());

        options.Window.Should().Be(window);
        options.RopeTheta.Should().Be(theta);
        options.Scale.Should().BeApproximately(0.5, 1e-12, "1/sqrt(head_dim 4)");
        checkpoint.Caveats(layer).Should().BeEmpty();
        checkpoint.LoadAttentionLayer(layer, new SomaParameters(Window: 7, Rope: false)).Options
            .Should().Match<SomaLayerOptions>(x => x.Window == 7 && x.RopeTheta == null, "the options file wins over the config");
    }

    [Fact]
    public void Caveats_NameRopeScalingAndQkNorms_ThatSomaDoesNotApply()
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 5);
        var norm = ("model.layers.0.self_attn.q_norm.weight", "F32", new long[] { 4 }, SafetensorsWriter.F32(1, 1, 1, 1));
        FakeCheckpoint.Write(
            folder, new[] { TestData.Weights(o, seed: 166), TestData.Weights(o, seed: 167) }, sharded: true, halfKey: null,
            config: new Dictionary<string, object?> { ["rope_scaling"] = new Dictionary<string, object> { ["rope_type"] = "llama3", ["factor"] = 8.0 } },
            extra: new[] { norm });

        using var checkpoint = HuggingFaceCheckpoint.Open(folder);

        checkpoint.Config.RopeScaling.Should().Be("llama3");
        checkpoint.Caveats(0).Should().HaveCount(2).And.Contain(c => c.Contains("RoPE scaling 'llama3'")).And.Contain(c => c.Contains("q_norm/k_norm"));
        checkpoint.Caveats(1).Should().ContainSingle().Which.Should().Contain("llama3");
    }

    [Theory]
    [InlineData("{\"head_dim\": null, \"num_attention_heads\": 5}", "*hidden_size 12 is not a multiple of num_attention_heads 5*")]
    [InlineData("{\"num_key_value_heads\": 2.5}", "*'num_key_value_heads' is 2.5, not a non-negative integer*")]
    [InlineData("{\"num_hidden_layers\": null}", "*no integer 'num_hidden_layers'*")]
    public void MalformedConfigs_AreClearErrors(string config, string message)
    {
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 5);
        var extra = JsonSerializer.Deserialize<Dictionary<string, object?>>(config)!;
        FakeCheckpoint.Write(folder, new[] { TestData.Weights(o, seed: 168) }, sharded: false, halfKey: null, config: extra);

        Action open = () => HuggingFaceCheckpoint.Open(folder);

        open.Should().Throw<InvalidDataException>().WithMessage(message);
        File.WriteAllText(Path.Combine(folder, "config.json"), "{\"hidden_size\": 12,");
        open.Should().Throw<InvalidDataException>().WithMessage("*config.json is not valid JSON*");
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private void WriteCheckpoint(SomaLayerWeights[] layers, bool sharded, string? halfKey, int headsInConfig = 4) =>
        FakeCheckpoint.Write(folder, layers, sharded, halfKey, headsInConfig);
}
