using Soma;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// Session snapshots: save mid-stream, restore into a fresh session (of another layer object, or another
/// accelerator), continue, and get what an uninterrupted session gives; damaged snapshots change nothing.
/// </summary>
public abstract class SnapshotSuite
{
    protected SnapshotSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    private static SomaLayerOptions Shape(int window = 5) => new(16, 4, 2, 6, window, ropeTheta: 10000.0);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SaveRestoreContinue_EqualsNeverInterrupted(bool standard)
    {
        var o = Shape();
        var w = TestData.Weights(o, seed: 90, biases: true);
        var x = TestData.Inputs(o.ModelDim, 20, seed: 91);
        int d = o.ModelDim;
        using var layer = standard ? Engine.CreateStandardAttentionLayer(o, w, 32) : Engine.CreateLayer(o, w);
        using var other = standard ? Engine.CreateStandardAttentionLayer(o, w, 32) : Engine.CreateLayer(o, w);
        using var straight = layer.CreateSession();
        using var first = layer.CreateSession();
        using var restored = other.CreateSession();

        var expected = straight.Prefill(x);
        first.Prefill(x.AsSpan(0, 12 * d));
        using var snapshot = new MemoryStream();
        first.SaveState(snapshot);
        snapshot.Position = 0;
        restored.LoadState(snapshot);

        restored.Position.Should().Be(12);
        var rest = new List<float>(restored.Prefill(x.AsSpan(12 * d, 5 * d)));
        for (int t = 17; t < 20; t++)
        {
            rest.AddRange(restored.Decode(x.AsSpan(t * d, d)));
        }

        Tolerance.ShouldMatch(rest.ToArray(), expected.AsSpan(12 * d), "y after restore");
        ConsistencySuite.StatesShouldMatch(restored, straight);
    }

    [Fact]
    public void Snapshot_MovesBetweenAccelerators()
    {
        // The shared suites' accelerator and a CPU accelerator of another device shape (CPU <-> CUDA on a GPU run).
        var o = Shape(window: 7);
        var w = TestData.Weights(o, seed: 92);
        var x = TestData.Inputs(o.ModelDim, 15, seed: 93);
        int d = o.ModelDim;
        using var cpu = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu, cpuThreadsPerWarp: 4));
        using var here = Engine.CreateLayer(o, w);
        using var there = cpu.CreateLayer(o, w);
        using var a = here.CreateSession();
        using var b = there.CreateSession();
        using var reference = here.CreateSession();
        var expected = reference.Prefill(x);

        a.Prefill(x.AsSpan(0, 9 * d));
        using var toThere = new MemoryStream();
        a.SaveState(toThere);
        toThere.Position = 0;
        b.LoadState(toThere);
        b.Prefill(x.AsSpan(9 * d, 3 * d));
        using var back = new MemoryStream();
        b.SaveState(back);
        back.Position = 0;
        a.LoadState(back);

        Tolerance.ShouldMatch(a.Prefill(x.AsSpan(12 * d)), expected.AsSpan(12 * d), "y after a round trip through another accelerator");
    }

    [Fact]
    public void DamagedOrForeignSnapshots_AreRejectedClearly_AndChangeNothing()
    {
        var o = Shape();
        var w = TestData.Weights(o, seed: 94);
        using var layer = Engine.CreateLayer(o, w);
        using var wider = Engine.CreateLayer(Shape(window: 6), w);
        using var standard = Engine.CreateStandardAttentionLayer(o, w, 5);
        using var source = layer.CreateSession();
        source.Prefill(TestData.Inputs(o.ModelDim, 7, seed: 95));
        var good = Save(source);
        using var target = layer.CreateSession();
        target.Prefill(TestData.Inputs(o.ModelDim, 3, seed: 96));
        var before = target.DownloadState();

        var corrupt = (byte[])good.Clone();
        corrupt[good.Length / 2] ^= 0x40;
        var badMagic = (byte[])good.Clone();
        badMagic[0] = (byte)'X';
        var badVersion = (byte[])good.Clone();
        badVersion[8] = 9;
        var hugeHeader = (byte[])good.Clone();
        hugeHeader[15] = 0x7f;

        Reject(target, good[..^1], "*truncated*checksum*");
        Reject(target, good[..40], "*truncated*header*");
        Reject(target, good[..(good.Length - 100)], "*truncated*");
        Reject(target, corrupt, "*checksum*corrupt*");
        Reject(target, badMagic, "*SOMASNAP*");
        Reject(target, badVersion, "*version 9*");
        Reject(target, hugeHeader, "*header length*");
        using (var other = wider.CreateSession())
        {
            Reject(other, good, "*different layer shape*window 5 vs 6*");
        }

        using (var baseline = standard.CreateSession())
        {
            Reject(baseline, good, "*different layer shape*kind soma vs standard*");
        }

        target.Position.Should().Be(3);
        var after = target.DownloadState();
        after.RingK.Should().Equal(before.RingK);
        after.Field.Should().Equal(before.Field);
    }

    private static byte[] Save(SomaSession session) => SnapshotForge.Save(session);

    private static void Reject(SomaSession session, byte[] bytes, string message)
    {
        Action load = () => session.LoadState(new MemoryStream(bytes));
        load.Should().Throw<InvalidDataException>().WithMessage(message);
    }
}
