using Soma;
using Soma.Internal;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>The layer against the double-precision reference over a sweep of shapes, options and parameters.</summary>
public abstract class ReferenceSuite
{
    protected ReferenceSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    public static TheoryData<int, int, int, int, int, bool, bool, bool, float, float?> Shapes() => new()
    {
        // D, H, Hkv, dh, W, includeCurrent, rope, biases, gamma, alpha (null: random per head)
        { 13, 3, 1, 5, 4, true, false, false, 0.9f, null },       // odd D, odd dh, MQA
        { 13, 3, 3, 6, 7, false, true, true, 0.5f, null },        // MHA, dh not a power of two, exclusive
        { 24, 4, 2, 10, 9, true, true, true, 0f, null },          // gamma 0: the field is the last k
        { 37, 6, 2, 6, 5, false, false, true, 0.999f, 0.7f },     // gamma near 1
        { 16, 4, 4, 8, 3, true, true, false, 0.8f, 0f },          // alpha 0
        { 9, 2, 1, 3, 1, true, false, true, 0.6f, null },         // W = 1
        { 9, 2, 1, 4, 1, false, true, true, 0.6f, null },         // W = 1, exclusive
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void PrefillThenDecode_MatchesReference_OutputsAndState(
        int d, int h, int hkv, int dh, int window, bool includeCurrent, bool rope, bool biases, float gamma, float? alpha)
    {
        var o = new SomaLayerOptions(d, h, hkv, dh, window, includeCurrent, ropeTheta: rope ? 10000.0 : null);
        var w = TestData.Weights(o, seed: d + h + dh, biases, alpha, gamma);
        const int prefill = 17, decode = 4;
        var x = TestData.Inputs(d, prefill + decode, seed: window);
        using var layer = Engine.CreateLayer(o, w);
        using var session = layer.CreateSession();

        var y = new List<float>(session.Prefill(x.AsSpan(0, prefill * d)));
        for (int t = prefill; t < prefill + decode; t++)
        {
            y.AddRange(session.Decode(x.AsSpan(t * d, d)));
        }

        var reference = new SomaReference(o, w);
        var state = reference.CreateState();
        Tolerance.ShouldMatch(y.ToArray(), reference.Run(state, x), "y");
        StateShouldMatch(session, state);
        session.Position.Should().Be(prefill + decode);
    }

    [Theory]
    [InlineData(65_530L)]
    [InlineData(999_990L)]
    [InlineData(SomaSession.MaxPosition - 12)]
    public void Rope_AtLargePositions_MatchesReference(long start)
    {
        var o = new SomaLayerOptions(16, 4, 2, 8, window: 6, ropeTheta: 10000.0);
        var w = TestData.Weights(o, seed: 31);
        var x = TestData.Inputs(o.ModelDim, 12, seed: 32);
        var ringK = TestData.Inputs(o.Window * o.KvHeads * o.HeadDim, 1, seed: 33);
        var ringV = TestData.Inputs(o.Window * o.KvHeads * o.HeadDim, 1, seed: 34);
        var field = Array.ConvertAll(TestData.Inputs(o.KvHeads * o.HeadDim, 1, seed: 35), f => (double)f);
        using var layer = Engine.CreateLayer(o, w);
        using var session = layer.CreateSession();
        session.UploadState(ringK, ringV, Array.ConvertAll(field, v => (double)v), start);

        var y = new List<float>(session.Prefill(x.AsSpan(0, 8 * o.ModelDim)));
        for (int t = 8; t < 12; t++)
        {
            y.AddRange(session.Decode(x.AsSpan(t * o.ModelDim, o.ModelDim)));
        }

        var reference = new SomaReference(o, w);
        var state = reference.CreateState();
        state.Position = start;
        for (int i = 0; i < ringK.Length; i++)
        {
            state.RingK[i] = ringK[i];
            state.RingV[i] = ringV[i];
        }

        for (int i = 0; i < field.Length; i++)
        {
            state.Field[i] = field[i];
        }

        Tolerance.ShouldMatch(y.ToArray(), reference.Run(state, x), $"y from position {start}");
        StateShouldMatch(session, state);
    }

    [Fact]
    public void LongPrefillInPasses_WithGammaNearOne_StaysWithin1e6OfTheReference()
    {
        // 12,000 tokens at gamma = 0.99999 in two calls of several passes each. One token repeated is the worst case
        // for the scan's precision (every step's rounding goes the same way); the fp64 field keeps y within 1e-6.
        var o = new SomaLayerOptions(8, 2, 1, 4, window: 4, ropeTheta: 10000.0, maxChunkTokens: 2048);
        var w = TestData.Weights(o, seed: 38, alpha: 1f, gamma: 0.99999f);
        const int first = 5_000, n = 12_000;
        var token = TestData.Inputs(o.ModelDim, 1, seed: 39);
        var x = new float[n * o.ModelDim];
        for (int t = 0; t < n; t++)
        {
            token.CopyTo(x, t * o.ModelDim);
        }

        using var layer = Engine.CreateLayer(o, w);
        using var session = layer.CreateSession();
        var y = new List<float>(session.Prefill(x.AsSpan(0, first * o.ModelDim)));
        y.AddRange(session.Prefill(x.AsSpan(first * o.ModelDim)));

        var reference = new SomaReference(o, w);
        var state = reference.CreateState();
        var expected = reference.Run(state, x);
        var actual = y.ToArray();
        for (int t = 0; t < n; t++)
        {
            Tolerance.ShouldMatch(actual.AsSpan(t * o.ModelDim, o.ModelDim), expected.AsSpan(t * o.ModelDim, o.ModelDim), $"y[t={t}]", 1e-6);
        }

        Tolerance.ShouldMatch(session.DownloadState().Field, state.Field, "field S", 1e-6);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void SplitWindowAttentionAndSplitK_ForcedOnThisAccelerator_MatchesReference(bool includeCurrent, bool stageTiles)
    {
        // The host splits windows and projections across groups when rows cannot fill the device (GPU decode); force it here.
        // The overrides are fixed per engine (SomaEngineOptions.Tuning), so this test opens its own.
        using var engine = SomaEngine.Create(Engine.Options with
        {
            Tuning = new LaunchTuning
            {
                AttentionTargetGroups = 1000, MinKeysPerSplit = 2, ProjectionTargetGroups = 1000, MinSliceWidth = 3, StageAttentionTiles = stageTiles,
            },
        });
        var o = new SomaLayerOptions(14, 4, 2, 6, window: 11, includeCurrent, ropeTheta: 10000.0);
        var w = TestData.Weights(o, seed: 36, biases: true);
        var x = TestData.Inputs(o.ModelDim, 20, seed: 37);
        using var layer = engine.CreateLayer(o, w);
        using var session = layer.CreateSession();
        var y = new List<float>(session.Prefill(x.AsSpan(0, 13 * o.ModelDim)));
        for (int t = 13; t < 20; t++)
        {
            y.AddRange(session.Decode(x.AsSpan(t * o.ModelDim, o.ModelDim)));
        }

        var reference = new SomaReference(o, w);
        Tolerance.ShouldMatch(y.ToArray(), reference.Run(reference.CreateState(), x), "y with split windows");
    }

    internal static void StateShouldMatch(SomaSession session, ReferenceState state)
    {
        var (ringK, ringV, field) = session.DownloadState();
        Tolerance.ShouldMatch(ringK, state.RingK, "ring K");
        Tolerance.ShouldMatch(ringV, state.RingV, "ring V");
        Tolerance.ShouldMatch(field, state.Field, "field S");
        session.Position.Should().Be(state.Position);
    }
}
