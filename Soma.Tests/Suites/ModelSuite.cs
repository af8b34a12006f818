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

        // A fault in the third layer, after the first two computed their outputs, leaves them as they were too.
        var states = a.Sessions.Select(s => s.DownloadState()).ToArray();
        model.Layers[2].BeforeStage = stage =>
        {
            if (stage == "download")
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

    /// <summary>Each stage of the first and last layer, failing in a decode step or in a long (multi-pass) prefill.</summary>
    public static TheoryData<string, int, bool> Faults()
    {
        var data = new TheoryData<string, int, bool>();
        foreach (var stage in new[] { "upload", "rope", "qkv", "scan", "attention", "output", "download", "commit" })
        {
            foreach (int layer in new[] { 0, 2 })
            {
                // Each layer saves what its commit overwrites before launching it; when a later layer (or its commit)
                // fails, the earlier layers' commits are undone (their saved ring rows). In a decode step the layers
                // hand their output on in device memory: only the last one downloads.
                if (stage != "download" || layer != 0)
                {
                    data.Add(stage, layer, false);
                }

                data.Add(stage, layer, true);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Faults))]
    public void AFaultInAnyLayer_LeavesEveryLayerAsItWas(string stage, int failingLayer, bool longPrefill)
    {
        var o = Shape(); // maxChunkTokens 6: a 9-token prefill takes two passes in every layer
        var weights = Weights(o);
        int d = o.ModelDim;
        using var model = Engine.CreateModel(o, weights);
        using var session = model.CreateSession();
        var prompt = TestData.Inputs(d, 5, seed: 160);
        var next = TestData.Inputs(d, longPrefill ? 9 : 1, seed: 161);
        session.Prefill(prompt);
        var before = session.Sessions.Select(s => s.DownloadState()).ToArray();
        int seen = 0;
        model.Layers[failingLayer].BeforeStage = s =>
        {
            // In a long prefill, fail in the second pass (after the first committed).
            if (s == stage && ++seen == (longPrefill ? 2 : 1))
            {
                throw new InvalidOperationException("injected fault");
            }
        };

        Action call = () => session.Prefill(next);

        call.Should().Throw<InvalidOperationException>().WithMessage("injected fault");
        model.Layers[failingLayer].BeforeStage = null;
        session.Position.Should().Be(5);
        for (int l = 0; l < 3; l++)
        {
            session.Sessions[l].Position.Should().Be(5);
            var after = session.Sessions[l].DownloadState();
            after.RingK.Should().Equal(before[l].RingK, $"layer {l}'s ring K is unchanged");
            after.RingV.Should().Equal(before[l].RingV, $"layer {l}'s ring V is unchanged");
            after.Field.Should().Equal(before[l].Field, $"layer {l}'s field is unchanged");
        }

        using var fresh = model.CreateSession();
        fresh.Prefill(prompt);
        Tolerance.ShouldMatch(session.Prefill(next), fresh.Prefill(next), "the model after the failed call");
    }

    [Fact]
    public void ModelDecode_AllocatesNoDeviceMemory_AfterTheFirstStep()
    {
        var o = Shape();
        int d = o.ModelDim;
        using var model = Engine.CreateModel(o, Weights(o));
        using var pool = model.CreatePool(3);
        var sessions = Enumerable.Range(0, 3).Select(_ => pool.OpenSession()).ToArray();
        var x = TestData.Inputs(d, 3, seed: 162);
        var y = new float[x.Length];
        model.DecodeBatch(sessions, x, y);
        sessions[0].Decode(x.AsSpan(0, d), y.AsSpan(0, d));
        long allocations = Engine.Ledger.Allocations;

        for (int step = 0; step < 4; step++)
        {
            model.DecodeBatch(sessions, x, y);
            sessions[1].Decode(x.AsSpan(d, d), y.AsSpan(0, d));
        }

        Engine.Ledger.Allocations.Should().Be(allocations, "decode steps reuse the layers' scratch and copy no state aside");
        foreach (var s in sessions)
        {
            s.Dispose();
        }
    }

    [Fact]
    public void OneModelSession_UsedConcurrently_Throws_AndCorruptsNothing()
    {
        var o = Shape();
        int d = o.ModelDim;
        using var model = Engine.CreateModel(o, Weights(o));
        using var session = model.CreateSession();
        using var twin = model.CreateSession();
        var x = TestData.Inputs(d, 2, seed: 163);
        Exception? decode = null, reset = null;
        model.Layers[1].BeforeStage = stage =>
        {
            if (stage == "qkv" && decode is null)
            {
                // Mid-call, in the second layer: other calls on the same sequence must be refused, even those that
                // would start with the first layer, which this call has finished with.
                decode = Record.Exception(() => session.Decode(x.AsSpan(d, d)));
                reset = Record.Exception(() => session.Reset());
            }
        };

        var y = session.Decode(x.AsSpan(0, d));
        model.Layers[1].BeforeStage = null;

        decode.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Contain("already in use");
        reset.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Contain("already in use");
        session.Position.Should().Be(1);
        y.Should().Equal(twin.Decode(x.AsSpan(0, d)));
        session.Decode(x.AsSpan(d, d)).Should().Equal(twin.Decode(x.AsSpan(d, d)));
    }

    [Theory]
    [InlineData(new[] { 3, 0, 2 })]
    [InlineData(new[] { 5, 9, 1 })]
    public void ModelPrefillBatch_EqualsEachSequenceAlone(int[] lengths)
    {
        var o = Shape();
        int d = o.ModelDim;
        using var model = Engine.CreateModel(o, Weights(o));
        using var pool = model.CreatePool(lengths.Length);
        var sessions = lengths.Select(_ => pool.OpenSession()).ToArray();
        var x = TestData.Inputs(d, lengths.Sum(), seed: 164);

        var y = model.PrefillBatch(sessions, lengths, x);

        for (int s = 0, offset = 0; s < lengths.Length; offset += lengths[s] * d, s++)
        {
            using var alone = model.CreateSession();
            var rows = x.AsSpan(offset, lengths[s] * d);
            Tolerance.ShouldMatch(y.AsSpan(offset, rows.Length), alone.Prefill(rows), $"sequence {s}");
            sessions[s].Position.Should().Be(lengths[s]);
            sessions[s].Dispose();
        }
    }

    [Fact]
    public async Task ModelDecodeAsync_CancelledBetweenLayers_LeavesEveryLayerAsItWas()
    {
        var o = Shape();
        int d = o.ModelDim;
        using var model = Engine.CreateModel(o, Weights(o));
        using var session = model.CreateSession();
        session.Prefill(TestData.Inputs(d, 3, seed: 165));
        var before = session.Sessions.Select(s => s.DownloadState()).ToArray();
        using var cancel = new CancellationTokenSource();
        model.Layers[1].BeforeStage = stage =>
        {
            if (stage == "output")
            {
                cancel.Cancel();
            }
        };

        Func<Task> call = () => session.DecodeAsync(TestData.Inputs(d, 1, seed: 166), cancel.Token);

        await call.Should().ThrowAsync<OperationCanceledException>();
        model.Layers[1].BeforeStage = null;
        session.Position.Should().Be(3);
        for (int l = 0; l < 3; l++)
        {
            session.Sessions[l].DownloadState().RingK.Should().Equal(before[l].RingK, $"layer {l} is unchanged");
            session.Sessions[l].DownloadState().Field.Should().Equal(before[l].Field, $"layer {l}'s field is unchanged");
        }

        var y = await session.DecodeAsync(TestData.Inputs(d, 1, seed: 166));
        y.Should().HaveCount(d);
        session.Position.Should().Be(4);
    }

    [Fact]
    public void ModelCalls_RejectBadInput_NamingTheArgument_AndChangeNothing()
    {
        var o = Shape();
        int d = o.ModelDim;
        using var model = Engine.CreateModel(o, Weights(o));
        using var pool = model.CreatePool(2);
        using var other = model.CreatePool(1);
        var a = pool.OpenSession();
        var b = pool.OpenSession();
        var stranger = other.OpenSession();
        a.Prefill(TestData.Inputs(d, 2, seed: 167));
        var before = a.Sessions.Select(s => s.DownloadState()).ToArray();
        var two = TestData.Inputs(d, 2, seed: 168);
        var nan = (float[])two.Clone();
        nan[d + 3] = float.NaN;

        Invoking(() => model.DecodeBatch(new[] { a, b }, two.AsSpan(0, d))).Should().Throw<ArgumentException>()
            .WithParameterName("x").WithMessage("*[B=2, D=12]*");
        Invoking(() => model.DecodeBatch(new[] { a, b }, two, new float[d])).Should().Throw<ArgumentException>().WithParameterName("y");
        Invoking(() => model.DecodeBatch(new[] { a, a }, two)).Should().Throw<ArgumentException>()
            .WithParameterName("sessions").WithMessage("*appears twice*");
        Invoking(() => model.DecodeBatch(new[] { a, stranger }, two)).Should().Throw<ArgumentException>()
            .WithParameterName("sessions").WithMessage("*another pool*");
        Invoking(() => model.DecodeBatch(new[] { a, b }, nan)).Should().Throw<ArgumentException>()
            .WithParameterName("x").WithMessage("*x[15] is NaN*");
        Invoking(() => model.PrefillBatch(new[] { a, b }, new[] { 1 }, two)).Should().Throw<ArgumentException>()
            .WithParameterName("lengths").WithMessage("*one per session (2)*");
        Invoking(() => model.PrefillBatch(new[] { a, b }, new[] { 2, -1 }, two)).Should().Throw<ArgumentOutOfRangeException>()
            .WithParameterName("lengths");
        Invoking(() => a.Decode(two)).Should().Throw<ArgumentException>().WithParameterName("x").WithMessage("*[D=12]*");
        Invoking(() => a.Prefill(two.AsSpan(0, d + 1))).Should().Throw<ArgumentException>().WithParameterName("x");
        Invoking(() => a.Prefill(two, new float[d])).Should().Throw<ArgumentException>().WithParameterName("y");

        a.Position.Should().Be(2);
        for (int l = 0; l < 3; l++)
        {
            a.Sessions[l].DownloadState().RingK.Should().Equal(before[l].RingK, $"layer {l} is unchanged");
        }

        stranger.Dispose();
        Invoking(() => stranger.Decode(two.AsSpan(0, d))).Should().Throw<ObjectDisposedException>();
        a.Dispose();
        b.Dispose();
    }

    private static Action Invoking(Action action) => action;
}
