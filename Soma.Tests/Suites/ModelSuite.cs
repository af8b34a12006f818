using Soma;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>A stack of layers behind the session API: composition, batches, snapshots and failures across layers.</summary>
public abstract class ModelSuite
{
    protected ModelSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    private static SomaLayerOptions Shape() => new(12, 4, 2, 4, window: 4, ropeTheta: 10000.0, maxChunkTokens: 6);

    private static SomaLayerWeights[] Weights(SomaLayerOptions o) =>
        Enumerable.Range(0, 3).Select(l => TestData.Weights(o, seed: 140 + l, biases: true)).ToArray();

    [Fact]
    public void ModelPrefillAndDecode_EqualTheLayersComposedInTheReference()
    {
        var o = Shape();
        var weights = Weights(o);
        int d = o.ModelDim;
        var x = TestData.Inputs(d, 14, seed: 150);
        using var model = Engine.CreateModel(o, weights);
        using var session = model.CreateSession();

        var y = new List<float>(session.Prefill(x.AsSpan(0, 11 * d)));
        for (int t = 11; t < 14; t++)
        {
            y.AddRange(session.Decode(x.AsSpan(t * d, d)));
        }

        // The reference, layer by layer over the whole sequence (token-by-token inside each layer).
        var h = x.Select(v => (double)v).ToArray();
        foreach (var w in weights)
        {
            var reference = new SomaReference(o, w);
            h = reference.Run(reference.CreateState(), h.Select(v => (float)v).ToArray());
        }

        Tolerance.ShouldMatch(y.ToArray(), h, "y after three layers");
        session.Position.Should().Be(14);
        session.StateBytes.Should().Be(3 * o.StateBytes);
    }

    [Fact]
    public void ModelDecodeBatch_Snapshots_AndFailures_KeepEveryLayerConsistent()
    {
        var o = Shape();
        int d = o.ModelDim;
        using var model = Engine.CreateModel(o, Weights(o));
        using var pool = model.CreatePool(2);
        var a = pool.OpenSession();
        var b = pool.OpenSession();
        using var aloneA = model.CreateSession();
        using var aloneB = model.CreateSession();
        var promptA = TestData.Inputs(d, 5, seed: 151);
        var promptB = TestData.Inputs(d, 8, seed: 152);
        a.Prefill(promptA);
        aloneA.Prefill(promptA);
        b.Prefill(promptB);
        aloneB.Prefill(promptB);

        var step = TestData.Inputs(d, 2, seed: 153);
        var y = model.DecodeBatch(new[] { a, b }, step);
        Tolerance.ShouldMatch(y.AsSpan(0, d), aloneA.Decode(step.AsSpan(0, d)), "sequence a");
        Tolerance.ShouldMatch(y.AsSpan(d, d), aloneB.Decode(step.AsSpan(d, d)), "sequence b");

        // Snapshot b, restore it into a fresh sequence, continue: equal to b itself.
        using var saved = new MemoryStream();
        b.SaveState(saved);
        using var restored = model.CreateSession();
        saved.Position = 0;
        restored.LoadState(saved);
        var next = TestData.Inputs(d, 3, seed: 154);
        Tolerance.ShouldMatch(restored.Prefill(next), b.Prefill(next), "restored model session");

        // A corrupt snapshot (damage in the last layer's part) changes no layer.
        var bytes = saved.ToArray();
        bytes[^40] ^= 0x10;
        long before = restored.Position;
        Action load = () => restored.LoadState(new MemoryStream(bytes));
        load.Should().Throw<InvalidDataException>().WithMessage("*checksum*");
        restored.Position.Should().Be(before);

        // A fault in the third layer leaves the first two as they were too.
        var states = a.Sessions.Select(s => s.DownloadState()).ToArray();
        model.Layers[2].BeforeStage = stage =>
        {
            if (stage == "commit")
            {
                throw new InvalidOperationException("injected fault");
            }
        };
        Action fail = () => a.Decode(step.AsSpan(0, d));
        fail.Should().Throw<InvalidOperationException>().WithMessage("injected fault");
        model.Layers[2].BeforeStage = null;
        for (int l = 0; l < 3; l++)
        {
            a.Sessions[l].Position.Should().Be(6);
            a.Sessions[l].DownloadState().RingK.Should().Equal(states[l].RingK, $"layer {l} is unchanged");
        }

        a.Dispose();
        b.Dispose();
    }
}
