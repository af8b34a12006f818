using Soma;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// Thread safety as documented: concurrent calls on different sessions are safe (calls on a layer serialize) and
/// give the sequential results; the async API does not block the caller, and cancellation leaves a session as it was.
/// </summary>
public abstract class ConcurrencySuite
{
    protected ConcurrencySuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    private static SomaLayerOptions Shape() => new(12, 4, 2, 4, window: 5, ropeTheta: 10000.0, maxChunkTokens: 4);

    [Fact]
    public async Task ConcurrentCallsOnDifferentSessions_EqualTheSequentialResults()
    {
        var o = Shape();
        var w = TestData.Weights(o, seed: 120, biases: true);
        int d = o.ModelDim;
        using var layer = Engine.CreateLayer(o, w);
        var inputs = Enumerable.Range(0, 4).Select(i => TestData.Inputs(d, 9 + i, seed: 121 + i)).ToArray();
        var sequential = inputs.Select(x =>
        {
            using var s = layer.CreateSession();
            var y = s.Prefill(x.AsSpan(0, (x.Length / d - 2) * d)).ToList();
            y.AddRange(s.Decode(x.AsSpan(x.Length - 2 * d, d)));
            y.AddRange(s.Decode(x.AsSpan(x.Length - d, d)));
            return y.ToArray();
        }).ToArray();
        var sessions = inputs.Select(_ => layer.CreateSession()).ToArray();
        try
        {
            var concurrent = await Task.WhenAll(inputs.Select(async (x, i) =>
            {
                var y = (await sessions[i].PrefillAsync(x.AsMemory(0, x.Length - 2 * d))).ToList();
                y.AddRange(await sessions[i].DecodeAsync(x.AsMemory(x.Length - 2 * d, d)));
                y.AddRange(await Task.Run(() => sessions[i].Decode(x.AsSpan(x.Length - d, d))));
                return y.ToArray();
            }));

            for (int i = 0; i < inputs.Length; i++)
            {
                concurrent[i].Should().Equal(sequential[i], $"session {i} gives the same numbers when run beside others");
            }
        }
        finally
        {
            foreach (var s in sessions)
            {
                s.Dispose();
            }
        }
    }

    [Fact]
    public async Task ConcurrentCallsOnDifferentLayers_EqualTheSequentialResults()
    {
        // Each layer has its own streams; long prefills (pipelined passes) and decodes on two layers at once.
        var o = Shape();
        int d = o.ModelDim;
        var weights = new[] { TestData.Weights(o, seed: 130, biases: true), TestData.Weights(o, seed: 131) };
        var inputs = new[] { TestData.Inputs(d, 15, seed: 132), TestData.Inputs(d, 13, seed: 133) };
        var layers = weights.Select(w => Engine.CreateLayer(o, w)).ToArray();
        try
        {
            float[] Work(int i)
            {
                using var session = layers[i].CreateSession();
                var x = inputs[i];
                var y = session.Prefill(x.AsSpan(0, x.Length - 3 * d)).ToList();
                for (int t = x.Length / d - 3; t < x.Length / d; t++)
                {
                    y.AddRange(session.Decode(x.AsSpan(t * d, d)));
                }

                return y.ToArray();
            }

            var sequential = new[] { Work(0), Work(1) };
            var concurrent = await Task.WhenAll(Task.Run(() => Work(0)), Task.Run(() => Work(1)));

            concurrent[0].Should().Equal(sequential[0], "layer 0 gives the same numbers when another layer runs beside it");
            concurrent[1].Should().Equal(sequential[1], "layer 1 gives the same numbers when another layer runs beside it");
        }
        finally
        {
            foreach (var layer in layers)
            {
                layer.Dispose();
            }
        }
    }

    [Fact]
    public async Task CancelledPrefill_EndsCancelled_AndLeavesTheSessionAsItWas()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 125));
        using var session = layer.CreateSession();
        session.Prefill(TestData.Inputs(o.ModelDim, 3, seed: 126));
        var before = session.DownloadState();
        using var cancel = new CancellationTokenSource();
        layer.BeforeStage = stage =>
        {
            if (stage == "commit")
            {
                cancel.Cancel(); // after the first of five passes has committed
            }
        };

        Func<Task> prefill = () => session.PrefillAsync(TestData.Inputs(o.ModelDim, 20, seed: 127), cancel.Token);

        await prefill.Should().ThrowAsync<OperationCanceledException>();
        layer.BeforeStage = null;
        session.Position.Should().Be(3);
        session.DownloadState().RingK.Should().Equal(before.RingK);
        session.DownloadState().Field.Should().Equal(before.Field);
    }

    [Fact]
    public void AsyncCalls_RejectBadInputBeforeStarting()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 128));
        using var session = layer.CreateSession();

        Action prefill = () => _ = session.PrefillAsync(new float[o.ModelDim + 1]);
        Action decode = () => _ = session.DecodeAsync(new float[o.ModelDim - 1]);

        prefill.Should().Throw<ArgumentException>().WithParameterName("x");
        decode.Should().Throw<ArgumentException>().WithParameterName("x");
    }
}
