using Soma;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// Storage types (<see cref="SomaLayerOptions.WeightStorage"/>, <see cref="SomaLayerOptions.RingStorage"/>): every
/// combination of fp32, fp16 and bf16 weights and ring against the reference fed the values as stored, in decode,
/// one- and several-pass prefill and batches; snapshots of each ring type and their conversion on load.
/// </summary>
public abstract class StorageSuite
{
    protected StorageSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    /// <summary>Every (weights, ring) pair.</summary>
    public static TheoryData<SomaStorageType, SomaStorageType> Combinations()
    {
        var data = new TheoryData<SomaStorageType, SomaStorageType>();
        foreach (var w in Enum.GetValues<SomaStorageType>())
        {
            foreach (var r in Enum.GetValues<SomaStorageType>())
            {
                data.Add(w, r);
            }
        }

        return data;
    }

    private static SomaLayerOptions Shape(SomaStorageType weights, SomaStorageType ring, int maxChunkTokens = 4) =>
        new SomaLayerOptions(16, 4, 2, 6, window: 5, ropeTheta: 10000.0, maxChunkTokens: maxChunkTokens)
        {
            WeightStorage = weights,
            RingStorage = ring,
        };

    [Theory]
    [MemberData(nameof(Combinations))]
    public void EveryStorageCombination_MatchesTheReference_InPrefillDecodeAndBatches(SomaStorageType weightType, SomaStorageType ringType)
    {
        var o = Shape(weightType, ringType);
        var w = TestData.Weights(o, seed: 300, biases: true);
        int d = o.ModelDim;
        const int n = 17;
        double rel = Internal.StorageTypes.OutputBound(ringType).Relative;
        var reference = new SomaReference(o, w);
        using var layer = Engine.CreateLayer(o, w);
        layer.Options.WeightStorage.Should().Be(weightType);
        layer.StateBytes.Should().Be(o.StateBytes);

        // Session i: a one-pass prefill of 3 tokens, a prefill of 9 (three passes of at most 4), then decode steps,
        // the last ones as a batch of the three sessions (different histories, one pass).
        using var pool = layer.CreatePool(3);
        var sessions = new[] { pool.OpenSession(), pool.OpenSession(), pool.OpenSession() };
        try
        {
            var inputs = new float[sessions.Length][];
            var states = new ReferenceState[sessions.Length];
            var expected = new double[sessions.Length][];
            for (int i = 0; i < sessions.Length; i++)
            {
                inputs[i] = TestData.Inputs(d, n, seed: 301 + i);
                states[i] = reference.CreateState();
                expected[i] = reference.Run(states[i], inputs[i]);
                var x = inputs[i];
                int first = 3 - i;
                Tolerance.ShouldMatch(sessions[i].Prefill(x.AsSpan(0, first * d)), expected[i].AsSpan(0, first * d), $"one-pass prefill {i}", rel);
                Tolerance.ShouldMatch(sessions[i].Prefill(x.AsSpan(first * d, 9 * d)), expected[i].AsSpan(first * d, 9 * d), $"multi-pass prefill {i}", rel);
                for (int t = first + 9; t < n - 2 - i; t++)
                {
                    Tolerance.ShouldMatch(sessions[i].Decode(x.AsSpan(t * d, d)), expected[i].AsSpan(t * d, d), $"decode {i} at {t}", rel);
                }
            }

            for (int step = 0; step < 2; step++)
            {
                var x = new float[sessions.Length * d];
                var want = new double[sessions.Length * d];
                for (int i = 0; i < sessions.Length; i++)
                {
                    int t = (int)sessions[i].Position;
                    inputs[i].AsSpan(t * d, d).CopyTo(x.AsSpan(i * d));
                    expected[i].AsSpan(t * d, d).CopyTo(want.AsSpan(i * d));
                }

                Tolerance.ShouldMatch(layer.DecodeBatch(sessions, x), want, $"batch step {step}", rel);
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
    public void TheStandardAttentionBaseline_StoresItsCacheInTheRingType_AndMatchesCausalAttention()
    {
        var o = Shape(SomaStorageType.BFloat16, SomaStorageType.Float16);
        var w = TestData.Weights(o, seed: 305, biases: true);
        var x = TestData.Inputs(o.ModelDim, 10, seed: 306);
        int d = o.ModelDim;
        using var layer = Engine.CreateStandardAttentionLayer(o, w, kvCapacity: 16);
        using var session = layer.CreateSession();
        layer.StateBytes.Should().Be(2L * 16 * o.KvHeads * o.HeadDim * 2, "the KV cache holds fp16 keys and values");
        var y = new List<float>(session.Prefill(x.AsSpan(0, 7 * d)));
        for (int t = 7; t < 10; t++)
        {
            y.AddRange(session.Decode(x.AsSpan(t * d, d)));
        }

        Tolerance.ShouldMatch(y.ToArray(), CausalAttentionReference.Run(o, w, x, includeDiagonal: true), "y of the fp16-cache baseline");
    }

    [Theory]
    [InlineData(SomaStorageType.Float32)]
    [InlineData(SomaStorageType.Float16)]
    [InlineData(SomaStorageType.BFloat16)]
    public void Snapshot_RecordsTheRingType_AndRoundTripsExactly(SomaStorageType ringType)
    {
        var o = Shape(SomaStorageType.Float32, ringType);
        var w = TestData.Weights(o, seed: 310);
        var x = TestData.Inputs(o.ModelDim, 14, seed: 311);
        int d = o.ModelDim;
        using var layer = Engine.CreateLayer(o, w);
        using var straight = layer.CreateSession();
        using var first = layer.CreateSession();
        using var restored = layer.CreateSession();
        var expected = straight.Prefill(x);
        first.Prefill(x.AsSpan(0, 8 * d));
        var bytes = Save(first);

        System.Text.Encoding.UTF8.GetString(bytes).Should().Contain($"\"ring_dtype\":\"{Internal.StorageTypes.Name(ringType)}\"");
        bytes.Length.Should().BeLessThan(2 * 5 * o.KvHeads * o.HeadDim * Internal.StorageTypes.Bytes(ringType) + 1024, "the ring is written in its own type");
        restored.LoadState(new MemoryStream(bytes));
        restored.DownloadState().RingK.Should().Equal(first.DownloadState().RingK);
        var rest = restored.Prefill(x.AsSpan(8 * d));
        rest.Should().Equal(expected.AsSpan(8 * d).ToArray(), "a restored session continues bit for bit");
    }

    [Fact]
    public void Snapshot_OfAnotherRingType_IsRefused_UnlessConversionIsAsked_ThenConverts()
    {
        var w16 = Shape(SomaStorageType.Float32, SomaStorageType.Float16);
        var w = TestData.Weights(w16, seed: 320);
        var x = TestData.Inputs(w16.ModelDim, 9, seed: 321);
        using var half = Engine.CreateLayer(w16, w);
        using var wide = Engine.CreateLayer(w16 with { RingStorage = SomaStorageType.Float32 }, w);
        using var brain = Engine.CreateLayer(w16 with { RingStorage = SomaStorageType.BFloat16 }, w);
        using var source = half.CreateSession();
        using var target = wide.CreateSession();
        using var narrow = brain.CreateSession();
        source.Prefill(x);
        var bytes = Save(source);
        var (ringK, ringV, _) = source.DownloadState();

        Action refused = () => target.LoadState(new MemoryStream(bytes));
        refused.Should().Throw<InvalidDataException>().WithMessage("*'f16'*'f32'*ConvertRing*");
        target.Position.Should().Be(0, "a refused load changes nothing");

        target.LoadState(new MemoryStream(bytes), new SnapshotOptions { ConvertRing = true });
        target.Position.Should().Be(9);
        target.DownloadState().RingK.Should().Equal(ringK, "fp16 widens to fp32 exactly");

        var wideBytes = Save(target);
        narrow.LoadState(new MemoryStream(wideBytes), new SnapshotOptions { ConvertRing = true });
        var (bk, bv, _) = narrow.DownloadState();
        bk.Should().Equal(ringK.Select(v => Internal.StorageTypes.Round(v, SomaStorageType.BFloat16)), "fp32 narrows to bf16 to nearest even");
        bv.Should().Equal(ringV.Select(v => Internal.StorageTypes.Round(v, SomaStorageType.BFloat16)));
    }

    private static byte[] Save(SomaSession session) => SnapshotForge.Save(session);
}
