using Soma;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>Prefill, chunked prefill, decode loops, batches and resets all give the same numbers and the same state.</summary>
public abstract class ConsistencySuite
{
    protected ConsistencySuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    private static SomaLayerOptions Shape(bool includeCurrent, int maxChunk = 1024) =>
        new(20, 4, 2, 6, window: 5, includeCurrent, ropeTheta: 10000.0, maxChunkTokens: maxChunk);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Prefill_EqualsDecodeLoop_WithTheRingWrappedManyTimes(bool includeCurrent)
    {
        var o = Shape(includeCurrent);
        var w = TestData.Weights(o, seed: 41, biases: true);
        const int n = 33; // 6.6 wraps of W = 5
        var x = TestData.Inputs(o.ModelDim, n, seed: 42);
        using var layer = Engine.CreateLayer(o, w);
        using var parallel = layer.CreateSession();
        using var loop = layer.CreateSession();

        var yParallel = parallel.Prefill(x);
        var yLoop = new float[x.Length];
        for (int t = 0; t < n; t++)
        {
            loop.Decode(x.AsSpan(t * o.ModelDim, o.ModelDim)).CopyTo(yLoop, t * o.ModelDim);
        }

        Tolerance.ShouldMatch(yParallel, yLoop, "prefill vs decode loop");
        StatesShouldMatch(parallel, loop);
    }

    [Theory]
    [InlineData(true, 3, 4)]  // chunks of the caller's making straddle a wrap
    [InlineData(false, 7, 2)]
    [InlineData(true, 11, 9)]
    public void ChunkedPrefill_EqualsOnePrefill(bool includeCurrent, int firstChunk, int seed)
    {
        var o = Shape(includeCurrent);
        var w = TestData.Weights(o, seed: 43, biases: true);
        const int n = 29;
        var x = TestData.Inputs(o.ModelDim, n, seed: 44);
        using var layer = Engine.CreateLayer(o, w);
        using var whole = layer.CreateSession();
        using var pieces = layer.CreateSession();

        var yWhole = whole.Prefill(x);
        var rng = new Random(seed);
        var yPieces = new List<float>();
        for (int t0 = 0, size = firstChunk; t0 < n; t0 += size, size = rng.Next(1, 9))
        {
            int len = Math.Min(size, n - t0);
            yPieces.AddRange(pieces.Prefill(x.AsSpan(t0 * o.ModelDim, len * o.ModelDim)));
        }

        Tolerance.ShouldMatch(yPieces.ToArray(), yWhole, "chunked vs whole prefill");
        StatesShouldMatch(whole, pieces);
    }

    [Fact]
    public void InternalChunking_ByMaxChunkTokens_EqualsUnchunkedPrefill()
    {
        var w = TestData.Weights(Shape(true), seed: 45, biases: true);
        var x = TestData.Inputs(20, 26, seed: 46);
        using var small = Engine.CreateLayer(Shape(true, maxChunk: 4), w);
        using var large = Engine.CreateLayer(Shape(true), w);
        using var a = small.CreateSession();
        using var b = large.CreateSession();

        Tolerance.ShouldMatch(a.Prefill(x), b.Prefill(x), "maxChunkTokens 4 vs one pass");
        StatesShouldMatch(a, b);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PipelinedPasses_WithCopiesOverlappedOrSerialized_MatchTheReference(bool overlap)
    {
        // 14 rows in passes of 4: sessions straddle passes, and the last pass is short.
        var o = new SomaLayerOptions(13, 6, 3, 4, window: 5, ropeTheta: 10000.0, maxChunkTokens: 4);
        var w = TestData.Weights(o, seed: 140, biases: true);
        int d = o.ModelDim;
        int[] lengths = { 5, 2, 7 };
        var x = TestData.Inputs(d, lengths.Sum(), seed: 141);
        // The overlap is fixed per engine (SomaEngineOptions.OverlapCopies), so this test opens its own.
        using var engine = SomaEngine.Create(Engine.Options with { OverlapCopies = overlap });
        using var layer = engine.CreateLayer(o, w);
        using var pool = layer.CreatePool(3);
        var sessions = lengths.Select(_ => pool.OpenSession()).ToArray();
        var y = layer.PrefillBatch(sessions, lengths, x);
        var again = layer.PrefillBatch(sessions, lengths, x);

        var reference = new SomaReference(o, w);
        for (int s = 0, offset = 0; s < lengths.Length; offset += lengths[s] * d, s++)
        {
            var state = reference.CreateState();
            var rows = x.AsSpan(offset, lengths[s] * d).ToArray();
            Tolerance.ShouldMatch(y.AsSpan(offset, rows.Length).ToArray(), reference.Run(state, rows), $"session {s}, first call");
            Tolerance.ShouldMatch(again.AsSpan(offset, rows.Length).ToArray(), reference.Run(state, rows), $"session {s}, second call");
            ReferenceSuite.StateShouldMatch(sessions[s], state);
            sessions[s].Position.Should().Be(2 * lengths[s]);
        }
    }

    [Fact]
    public void DecodeBatch_EqualsEachSessionDecodedAlone()
    {
        var o = Shape(true);
        var w = TestData.Weights(o, seed: 47, biases: true);
        int d = o.ModelDim;
        int[] history = { 0, 3, 5, 12 };
        using var layer = Engine.CreateLayer(o, w);
        using var pool = layer.CreatePool(history.Length);
        var batch = history.Select(_ => pool.OpenSession()).ToArray();
        var alone = history.Select(_ => layer.CreateSession()).ToArray();
        try
        {
            for (int s = 0; s < history.Length; s++)
            {
                var prompt = TestData.Inputs(d, history[s], seed: 100 + s);
                batch[s].Prefill(prompt);
                alone[s].Prefill(prompt);
            }

            for (int step = 0; step < 3; step++)
            {
                var x = TestData.Inputs(d, history.Length, seed: 200 + step);
                var yBatch = layer.DecodeBatch(batch, x);
                for (int s = 0; s < history.Length; s++)
                {
                    var ySingle = alone[s].Decode(x.AsSpan(s * d, d));
                    Tolerance.ShouldMatch(yBatch.AsSpan(s * d, d), ySingle, $"session {s}, step {step}");
                }
            }

            for (int s = 0; s < history.Length; s++)
            {
                StatesShouldMatch(batch[s], alone[s]);
            }
        }
        finally
        {
            foreach (var s in alone)
            {
                s.Dispose();
            }
        }
    }

    [Fact]
    public void Reset_ForgetsEverything()
    {
        var o = Shape(true);
        var w = TestData.Weights(o, seed: 48);
        var x = TestData.Inputs(o.ModelDim, 9, seed: 49);
        using var layer = Engine.CreateLayer(o, w);
        using var used = layer.CreateSession();
        using var fresh = layer.CreateSession();
        used.Prefill(TestData.Inputs(o.ModelDim, 7, seed: 50));

        used.Reset();

        used.Position.Should().Be(0);
        Tolerance.ShouldMatch(used.Prefill(x), fresh.Prefill(x), "after reset vs fresh");
    }

    internal static void StatesShouldMatch(SomaSession a, SomaSession b)
    {
        a.Position.Should().Be(b.Position);
        var sa = a.DownloadState();
        var sb = b.DownloadState();
        Tolerance.ShouldMatch(sa.RingK, sb.RingK, "ring K");
        Tolerance.ShouldMatch(sa.RingV, sb.RingV, "ring V");
        Tolerance.ShouldMatch(sa.Field, sb.Field, "field S");
    }
}
