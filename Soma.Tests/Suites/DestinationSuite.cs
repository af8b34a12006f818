using Soma;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// Caller-owned outputs: a destination y longer than needed gets its first n * D floats written and keeps its tail;
/// a shorter one throws naming y and the length needed, and the call changes nothing.
/// </summary>
public abstract class DestinationSuite
{
    private const float Sentinel = 42.5f;

    protected DestinationSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    private static SomaLayerOptions Shape() => new(12, 4, 2, 4, window: 3, maxChunkTokens: 4);

    [Fact]
    public void LongerY_GetsTheFirstNxDFloats_AndKeepsItsTail_OnEverySpanOverload()
    {
        var o = Shape();
        int d = o.ModelDim;
        var w = TestData.Weights(o, seed: 321, biases: true);
        var prompt = TestData.Inputs(d, 10, seed: 322); // three passes of at most 4 rows
        var token = TestData.Inputs(d, 2, seed: 323);
        using var layer = Engine.CreateLayer(o, w);
        using var model = Engine.CreateModel(o, new[] { w, w });
        using var expectedPool = layer.CreatePool(2);
        using var actualPool = layer.CreatePool(2);
        using var expectedModelPool = model.CreatePool(2);
        using var actualModelPool = model.CreatePool(2);
        var e = new[] { expectedPool.OpenSession(), expectedPool.OpenSession() };
        var a = new[] { actualPool.OpenSession(), actualPool.OpenSession() };
        var me = new[] { expectedModelPool.OpenSession(), expectedModelPool.OpenSession() };
        var ma = new[] { actualModelPool.OpenSession(), actualModelPool.OpenSession() };

        ShouldWriteHead(e[0].Prefill(prompt), y => a[0].Prefill(prompt, y), "session.Prefill");
        ShouldWriteHead(e[0].Decode(token.AsSpan(0, d)), y => a[0].Decode(token.AsSpan(0, d), y), "session.Decode");
        ShouldWriteHead(layer.PrefillBatch(e, new[] { 3, 2 }, prompt.AsSpan(0, 5 * d)), y => layer.PrefillBatch(a, new[] { 3, 2 }, prompt.AsSpan(0, 5 * d), y), "layer.PrefillBatch");
        ShouldWriteHead(layer.DecodeBatch(e, token), y => layer.DecodeBatch(a, token, y), "layer.DecodeBatch");
        ShouldWriteHead(me[0].Prefill(prompt), y => ma[0].Prefill(prompt, y), "model session Prefill");
        ShouldWriteHead(me[0].Decode(token.AsSpan(0, d)), y => ma[0].Decode(token.AsSpan(0, d), y), "model session Decode");
        ShouldWriteHead(model.PrefillBatch(me, new[] { 1, 2 }, prompt.AsSpan(0, 3 * d)), y => model.PrefillBatch(ma, new[] { 1, 2 }, prompt.AsSpan(0, 3 * d), y), "model.PrefillBatch");
        ShouldWriteHead(model.DecodeBatch(me, token), y => model.DecodeBatch(ma, token, y), "model.DecodeBatch");
        a[0].Position.Should().Be(e[0].Position);
        ma[1].Position.Should().Be(me[1].Position);
    }

    [Fact]
    public void ShorterY_Throws_NamingYAndTheLengthNeeded_AndChangesNothing()
    {
        var o = Shape();
        int d = o.ModelDim;
        var w = TestData.Weights(o, seed: 324);
        var x = TestData.Inputs(d, 2, seed: 325);
        using var layer = Engine.CreateLayer(o, w);
        using var model = Engine.CreateModel(o, new[] { w });
        using var pool = layer.CreatePool(2);
        using var modelPool = model.CreatePool(2);
        var s = new[] { pool.OpenSession(), pool.OpenSession() };
        var m = new[] { modelPool.OpenSession(), modelPool.OpenSession() };
        var shortY = new float[2 * d - 1];

        var calls = new (string What, int Needed, Action Call)[]
        {
            ("session.Prefill", 2 * d, () => s[0].Prefill(x, shortY)),
            ("session.Decode", d, () => s[0].Decode(x.AsSpan(0, d), shortY.AsSpan(0, d - 1))),
            ("layer.PrefillBatch", 2 * d, () => layer.PrefillBatch(s, new[] { 1, 1 }, x, shortY)),
            ("layer.DecodeBatch", 2 * d, () => layer.DecodeBatch(s, x, shortY)),
            ("model session Prefill", 2 * d, () => m[0].Prefill(x, shortY)),
            ("model session Decode", d, () => m[0].Decode(x.AsSpan(0, d), shortY.AsSpan(0, d - 1))),
            ("model.PrefillBatch", 2 * d, () => model.PrefillBatch(m, new[] { 2, 0 }, x, shortY)),
            ("model.DecodeBatch", 2 * d, () => model.DecodeBatch(m, x, shortY)),
        };
        foreach (var (what, needed, call) in calls)
        {
            call.Should().Throw<ArgumentException>(what).WithParameterName("y").WithMessage($"y has {needed - 1} elements; expected at least {needed} *");
        }

        s.Select(q => q.Position).Concat(m.Select(q => q.Position)).Should().AllBeEquivalentTo(0L, "no rejected call consumed a token");
    }

    private static void ShouldWriteHead(float[] expected, Action<float[]> into, string what)
    {
        var y = new float[expected.Length + 7];
        Array.Fill(y, Sentinel);

        into(y);

        Tolerance.ShouldMatch(y.AsSpan(0, expected.Length), expected, what);
        y.AsSpan(expected.Length).ToArray().Should().AllBeEquivalentTo(Sentinel, $"{what} writes only the first {expected.Length} floats");
    }
}
