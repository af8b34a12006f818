using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Soma;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// Model snapshots: framed (layer count, one section per layer with its index and weights' SHA-256), so they load
/// only into the same stack; staged, so a failed save writes nothing; claimed, so a save or load racing a decode
/// equals one serial order of the two.
/// </summary>
public abstract class ModelSnapshotSuite
{
    protected ModelSnapshotSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    private static SomaLayerOptions Shape() => new(12, 4, 2, 4, window: 4, ropeTheta: 10000.0, maxChunkTokens: 6);

    private static SomaLayerWeights[] Weights(SomaLayerOptions o, int seed = 400) =>
        Enumerable.Range(0, 3).Select(l => TestData.Weights(o, seed: seed + l, biases: true)).ToArray();

    [Fact]
    public void AModelSnapshot_LoadsOnlyIntoTheSameStack_AndRefusalsChangeNothing()
    {
        var o = Shape();
        int d = o.ModelDim;
        var weights = Weights(o);
        using var model = Engine.CreateModel(o, weights);
        using var otherWeights = Engine.CreateModel(o, Weights(o, seed: 410));
        using var oneLayer = Engine.CreateModel(o, weights[..1]);
        using var twoLayers = Engine.CreateModel(o, weights[..2]);
        using var pool = model.CreatePool(2);
        var source = pool.OpenSession();
        var target = pool.OpenSession();
        source.Prefill(TestData.Inputs(d, 6, seed: 411));
        target.Prefill(TestData.Inputs(d, 3, seed: 412));
        var good = Save(source);
        var before = new[] { source, target }.Select(s => (Save(s), s.Position)).ToArray();

        var sections = SnapshotForge.ModelSections(good);
        sections.Should().HaveCount(3);
        for (int l = 0; l < 3; l++)
        {
            var header = SnapshotForge.ParseAt(sections[l]).Section.Header;
            header["layer_index"]!.GetValue<int>().Should().Be(l);
            header["weights_sha256"]!.GetValue<string>().Should().Be(model.Layers[l].WeightsSha256);
        }

        // Layers 0 and 1 swapped, as they are, and with their indices rewritten and checksums recomputed.
        var swapped = SnapshotForge.ModelFrame(new[] { sections[1], sections[0], sections[2] }, 3);
        var relabelled = new[] { sections[1], sections[0], sections[2] }.Select((bytes, l) =>
        {
            var (section, _) = SnapshotForge.ParseAt(bytes);
            section.Header["layer_index"] = l;
            return SnapshotForge.Build(section.Header, section.Payload);
        }).ToArray();
        var wrongCount = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(wrongCount.AsSpan(12), 2);
        var sectionVersion = (byte[])good.Clone();
        sectionVersion[16 + 8] = 3;

        // Every byte of the frame and of each section's prefix and header, flipped.
        for (int offset = 0, l = 0; l <= 3; l++)
        {
            int end = l == 0 ? 16 : offset + 16 + BinaryPrimitives.ReadInt32LittleEndian(good.AsSpan(offset + 12));
            for (int i = offset; i < end; i++)
            {
                var flipped = (byte[])good.Clone();
                flipped[i] ^= 0x01;
                Reject(target, flipped, "*");
            }

            offset = l == 0 ? 16 : offset + sections[l - 1].Length;
        }

        Reject(target, swapped, "*Section 0*holds layer 1*");
        Reject(target, SnapshotForge.ModelFrame(relabelled, 3), "*other weights*");
        Reject(target, SnapshotForge.ModelFrame(sections, 2), "*holds 2 layers*has 3*");
        Reject(target, wrongCount, "*holds 2 layers*has 3*");
        Reject(target, SnapshotForge.ModelFrame(sections.Take(2).ToList(), 3), "*truncated*layer 2*");
        Reject(target, [.. good, 0], "*goes on after*");
        Reject(target, good[..^1], "*truncated*checksum*");
        Reject(target, sectionVersion, "*version 3*");
        Reject(target, sections[0], "*version-2 session snapshot where a model snapshot was expected*");
        Action withIndex = () => target.LoadState(new MemoryStream(good), new SnapshotOptions { LayerIndex = 0 });
        withIndex.Should().Throw<ArgumentException>().WithMessage("*LayerIndex*");

        using (var one = oneLayer.CreateSession())
        {
            Reject(one, good, "*holds 3 layers*has 1*");
        }

        using (var two = twoLayers.CreateSession())
        {
            Reject(two, good, "*holds 3 layers*has 2*");
        }

        using (var foreign = otherWeights.CreateSession())
        {
            Reject(foreign, good, "*other weights*");
            foreign.LoadState(new MemoryStream(good), new SnapshotOptions { AllowOtherLayer = true });
            foreign.Position.Should().Be(6);
        }

        new[] { source, target }.Select(s => (Save(s), s.Position)).Should().Equal(before, (a, b) => a.Item1.SequenceEqual(b.Item1) && a.Position == b.Position);

        // And the good one loads, equal to its source from then on.
        target.LoadState(new MemoryStream(good));
        Save(target).Should().Equal(good);
        var next = TestData.Inputs(d, 2, seed: 413);
        Tolerance.ShouldMatch(target.Prefill(next), source.Prefill(next), "the restored sequence");
        source.Dispose();
        target.Dispose();
    }

    [Fact]
    public void AVersion1ModelSnapshot_StillLoads()
    {
        var o = Shape();
        int d = o.ModelDim;
        using var model = Engine.CreateModel(o, Weights(o));
        using var source = model.CreateSession();
        using var restored = model.CreateSession();
        source.Prefill(TestData.Inputs(d, 5, seed: 420));
        var legacy = source.Sessions.SelectMany(SnapshotForge.Legacy).ToArray();

        restored.LoadState(new MemoryStream(legacy));
        restored.Position.Should().Be(5);
        var next = TestData.Inputs(d, 3, seed: 421);
        Tolerance.ShouldMatch(restored.Prefill(next), source.Prefill(next), "after a version-1 model snapshot");

        using var oneLayer = Engine.CreateModel(o, new[] { Weights(o)[0] });
        using var one = oneLayer.CreateSession();
        Reject(one, legacy, "*goes on after*");
    }

    [Fact]
    public void AFailedSave_WritesNothing()
    {
        var o = Shape();
        using var model = Engine.CreateModel(o, Weights(o));
        using var session = model.CreateSession();
        session.Prefill(TestData.Inputs(o.ModelDim, 4, seed: 430));
        using var stream = new MemoryStream();
        session.Sessions[2].Claim();
        try
        {
            Action save = () => session.SaveState(stream);
            save.Should().Throw<InvalidOperationException>();
        }
        finally
        {
            session.Sessions[2].Release();
        }

        stream.Length.Should().Be(0);
        session.SaveState(stream);
        stream.Length.Should().BeGreaterThan(3 * o.StateBytes);
    }

    [Fact]
    public void LoadOrSaveRacingADecode_EqualsOneSerialOrder_AndNeverWritesAPartialSnapshot()
    {
        var o = Shape();
        int d = o.ModelDim;
        using var model = Engine.CreateModel(o, Weights(o));
        using var session = model.CreateSession();
        using var replay = model.CreateSession();
        var x = TestData.Inputs(d, 1, seed: 440);
        session.Prefill(TestData.Inputs(d, 5, seed: 441));
        var start = Save(session);
        replay.Prefill(TestData.Inputs(d, 3, seed: 442));
        var other = Save(replay);

        // The serial outcomes: y and the final state for each order (or for one call alone, when the other is refused).
        (float[] Y, byte[] State) DecodeFrom(byte[] state)
        {
            replay.LoadState(new MemoryStream(state));
            var y = replay.Decode(x);
            return (y, Save(replay));
        }

        var fromStart = DecodeFrom(start);
        var fromOther = DecodeFrom(other);
        int[] seen = new int[4];
        for (int attempt = 0; attempt < 40; attempt++)
        {
            session.LoadState(new MemoryStream(start));
            bool load = attempt % 2 == 0;
            using var saved = new MemoryStream();
            float[]? y = null;
            bool callRefused = false;
            using var barrier = new Barrier(2);
            var decode = new Thread(() =>
            {
                barrier.SignalAndWait();
                try
                {
                    y = session.Decode(x);
                }
                catch (InvalidOperationException)
                {
                }
            });
            decode.Start();
            barrier.SignalAndWait();
            try
            {
                if (load)
                {
                    session.LoadState(new MemoryStream(other));
                }
                else
                {
                    session.SaveState(saved);
                }
            }
            catch (InvalidOperationException)
            {
                callRefused = true;
            }

            decode.Join();
            var final = Save(session);
            bool decodeFirst = y is not null && y.SequenceEqual(fromStart.Y);
            if (load)
            {
                bool serial = (callRefused, y) switch
                {
                    (true, not null) => decodeFirst && final.SequenceEqual(fromStart.State),
                    (false, null) => final.SequenceEqual(other),
                    (false, not null) => (decodeFirst && final.SequenceEqual(other)) || (y.SequenceEqual(fromOther.Y) && final.SequenceEqual(fromOther.State)),
                    _ => false,
                };
                serial.Should().BeTrue($"attempt {attempt}: a load and a decode equal one serial order (load refused {callRefused}, decode ran {y is not null})");
            }
            else
            {
                var written = saved.ToArray();
                (y is null || decodeFirst).Should().BeTrue($"attempt {attempt}: the decode ran from the saved state");
                bool serial = callRefused
                    ? written.Length == 0 && y is not null && final.SequenceEqual(fromStart.State)
                    : written.SequenceEqual(start) || (y is not null && written.SequenceEqual(fromStart.State));
                serial.Should().BeTrue($"attempt {attempt}: a save and a decode equal one serial order, and a refused save writes nothing");
                final.Should().Equal(y is null ? start : fromStart.State);
            }

            seen[(callRefused ? 1 : 0) + (y is null ? 2 : 0)]++;
        }

        seen[3].Should().Be(0, "two calls never both refuse");
    }

    private static byte[] Save(SomaModelSession session)
    {
        using var stream = new MemoryStream();
        session.SaveState(stream);
        return stream.ToArray();
    }

    private static void Reject(SomaModelSession session, byte[] bytes, string message)
    {
        Action load = () => session.LoadState(new MemoryStream(bytes));
        load.Should().Throw<InvalidDataException>().WithMessage(message);
    }
}
