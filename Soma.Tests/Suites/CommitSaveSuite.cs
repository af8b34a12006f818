using Soma;
using Soma.Tests.Infrastructure;
using static FluentAssertions.FluentActions;

namespace Soma.Tests.Suites;

/// <summary>
/// The commit saves what it overwrites in its own launch, and one restore launch puts it back: a fault after the commit
/// of any pass (after every pass of a call that wraps its ring more than once, after a batched decode's commit) leaves
/// every session bit for bit as before, for every ring storage type and for the standard-attention baseline; a warm
/// decode step makes no device copy.
/// </summary>
public abstract class CommitSaveSuite
{
    protected CommitSaveSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    // W = 3, passes of at most 4 rows.
    private static SomaLayerOptions Shape(SomaStorageType ring, int maxChunkTokens = 4) =>
        new SomaLayerOptions(12, 4, 2, 4, window: 3, ropeTheta: 10000.0, maxChunkTokens: maxChunkTokens) { RingStorage = ring };

    public static TheoryData<SomaStorageType, bool, int> Faults()
    {
        var data = new TheoryData<SomaStorageType, bool, int>();
        foreach (var ring in new[] { SomaStorageType.Float32, SomaStorageType.Float16, SomaStorageType.BFloat16 })
        {
            foreach (bool standard in new[] { false, true })
            {
                for (int pass = 0; pass <= 3; pass++)
                {
                    data.Add(ring, standard, pass);
                }
            }
        }

        return data;
    }

    /// <summary>
    /// Four sessions at positions 2, 3, 4 and 5; a batched prefill of 4, 0, 1 and 6 rows is three passes (4 | 1 + 3 | 3),
    /// the second session untouched, the last one split across two passes and wrapping W = 3 twice. Pass 0 is a batched
    /// decode step instead.
    /// </summary>
    [Theory]
    [MemberData(nameof(Faults))]
    public void AFaultAfterTheCommitOfAnyPass_LeavesEverySessionBitForBitAsBefore(SomaStorageType ring, bool standard, int failingPass)
    {
        var o = Shape(ring);
        var w = TestData.Weights(o, seed: 700, biases: true);
        int d = o.ModelDim;
        using var layer = standard ? Engine.CreateStandardAttentionLayer(o, w, kvCapacity: 24) : Engine.CreateLayer(o, w);
        using var pool = layer.CreatePool(4);
        var sessions = new[] { pool.OpenSession(), pool.OpenSession(), pool.OpenSession(), pool.OpenSession() };
        layer.PrefillBatch(sessions, new[] { 2, 3, 4, 5 }, TestData.Inputs(d, 14, seed: 701));
        var before = sessions.Select(Snapshot).ToArray();
        int committed = 0;
        layer.BeforeStage = stage =>
        {
            if (stage == "committed" && ++committed == Math.Max(1, failingPass))
            {
                throw new InvalidOperationException("injected fault");
            }
        };

        Action call = failingPass == 0
            ? () => layer.DecodeBatch(sessions, TestData.Inputs(d, 4, seed: 702))
            : () => layer.PrefillBatch(sessions, new[] { 4, 0, 1, 6 }, TestData.Inputs(d, 11, seed: 703));

        call.Should().Throw<InvalidOperationException>().WithMessage("injected fault");
        layer.BeforeStage = null;
        committed.Should().Be(Math.Max(1, failingPass), "the fault follows that pass's commit");
        for (int s = 0; s < sessions.Length; s++)
        {
            Snapshot(sessions[s]).Should().BeEquivalentTo(before[s], opt => opt.WithStrictOrdering(), $"session {s} after a fault after commit {failingPass}");
        }

        // The area is reused: the same call now succeeds and equals sessions that never failed.
        using var twinPool = layer.CreatePool(4);
        var twins = new[] { twinPool.OpenSession(), twinPool.OpenSession(), twinPool.OpenSession(), twinPool.OpenSession() };
        layer.PrefillBatch(twins, new[] { 2, 3, 4, 5 }, TestData.Inputs(d, 14, seed: 701));
        call();
        _ = failingPass == 0
            ? layer.DecodeBatch(twins, TestData.Inputs(d, 4, seed: 702))
            : layer.PrefillBatch(twins, new[] { 4, 0, 1, 6 }, TestData.Inputs(d, 11, seed: 703));
        for (int s = 0; s < sessions.Length; s++)
        {
            Snapshot(sessions[s]).Should().BeEquivalentTo(Snapshot(twins[s]), opt => opt.WithStrictOrdering(), $"session {s} after the call succeeded");
        }
    }

    /// <summary>A session's 10-row call from position 5 wraps W = 3 three times, in one pass or in three.</summary>
    [Theory]
    [InlineData(4, 1)]
    [InlineData(4, 2)]
    [InlineData(4, 3)]
    [InlineData(16, 1)]
    public void ACallThatWrapsItsRingMoreThanOnce_IsRestoredBitForBit(int maxChunkTokens, int failingPass)
    {
        var o = Shape(SomaStorageType.Float32, maxChunkTokens);
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 710, biases: true));
        using var session = layer.CreateSession();
        session.Prefill(TestData.Inputs(o.ModelDim, 5, seed: 711));
        var before = Snapshot(session);
        int committed = 0;
        layer.BeforeStage = stage =>
        {
            if (stage == "committed" && ++committed == failingPass)
            {
                throw new InvalidOperationException("injected fault");
            }
        };

        Invoking(() => session.Prefill(TestData.Inputs(o.ModelDim, 10, seed: 712))).Should().Throw<InvalidOperationException>();

        layer.BeforeStage = null;
        Snapshot(session).Should().BeEquivalentTo(before, opt => opt.WithStrictOrdering());
    }

    [Fact]
    public void AWarmDecodeStep_MakesNoDeviceCopy_AndItsCommitCountsTheSave()
    {
        var o = Shape(SomaStorageType.Float32);
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 720));
        using var session = layer.CreateSession();
        session.Prefill(TestData.Inputs(o.ModelDim, 4, seed: 721));
        session.Decode(TestData.Inputs(o.ModelDim, 1, seed: 722));
        session.Decode(TestData.Inputs(o.ModelDim, 1, seed: 723));

        var p = layer.LastCallProfile!;
        p.DeviceCopies.Should().Be(0, "the commit saves what it overwrites in the same launch");
        if (Engine.Device.Kind == SomaAcceleratorKind.Cpu)
        {
            p.Launches.Should().Be(4, "qkv, attention, output and commit: the save adds no launch");
        }
    }

    /// <summary>A session's ring and field (as their bits) and position.</summary>
    private static (int[] RingK, int[] RingV, long[] Field, long Position) Snapshot(SomaSession session)
    {
        var (ringK, ringV, field) = session.DownloadState();
        return (ringK.Select(BitConverter.SingleToInt32Bits).ToArray(), ringV.Select(BitConverter.SingleToInt32Bits).ToArray(),
            field.Select(BitConverter.DoubleToInt64Bits).ToArray(), session.Position);
    }
}
