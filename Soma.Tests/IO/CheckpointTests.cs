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
    [InlineData(false)]
    [InlineData(true)]
    public void LoadedLayer_HasTheCheckpointsWeights_AndRunsLikeTheReference(bool sharded)
    {
        // A GQA model with Qwen2-style q/k/v biases; layer 1's k_proj is stored as F16.
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 5, ropeTheta: 1000.0);
        var layers = new[] { TestData.Weights(o, seed: 160, biases: true), TestData.Weights(o, seed: 161, biases: true) };
        WriteCheckpoint(layers, sharded, halfKey: "model.layers.1.self_attn.k_proj.weight");
        var soma = new SomaParameters(Window: 5, Gamma: new[] { 0.8f, 0.7f }, Alpha: new[] { 0.5f });

        using var checkpoint = HuggingFaceCheckpoint.Open(folder);
        var (options, weights) = checkpoint.LoadAttentionLayer(1, soma);

        options.Should().BeEquivalentTo(o, c => c.Excluding(x => x.MaxChunkTokens));
        weights.Wq.Should().Equal(layers[1].Wq);
        weights.Wk.Should().Equal(layers[1].Wk.Select(v => (float)(Half)v));
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

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private void WriteCheckpoint(SomaLayerWeights[] layers, bool sharded, string? halfKey, int headsInConfig = 4) =>
        FakeCheckpoint.Write(folder, layers, sharded, halfKey, headsInConfig);
}
