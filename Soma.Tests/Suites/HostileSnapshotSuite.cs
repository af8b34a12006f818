using System.Buffers.Binary;
using System.Text.Json.Nodes;
using Soma;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// Session snapshots as untrusted input: flipped, cut, extended and forged bytes (with recomputed checksums) are
/// refused with <see cref="InvalidDataException"/>, change no session of the pool and allocate nothing of the size
/// they claim; snapshots name their layer (weights' SHA-256, index); version-1 files still load; positions stop at
/// <see cref="SomaSession.MaxPosition"/>.
/// </summary>
public abstract class HostileSnapshotSuite
{
    protected HostileSnapshotSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    private static SomaLayerOptions Shape() => new(16, 4, 2, 6, window: 5, ropeTheta: 10000.0);

    [Fact]
    public void FlippedCutAndExtendedSnapshots_AreRejected_AndChangeNoSessionOfThePool()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 300));
        using var pool = layer.CreatePool(3);
        var (source, sessions) = Prepare(pool, o);
        var good = Save(source);
        var before = Snapshot(sessions);
        int headerEnd = 16 + BinaryPrimitives.ReadInt32LittleEndian(good.AsSpan(12));
        var rng = new Random(301);
        var bad = new List<byte[]>();
        for (int i = 0; i < headerEnd; i++)
        {
            foreach (byte mask in new byte[] { 0x01, 0x80 })
            {
                var flipped = (byte[])good.Clone();
                flipped[i] ^= mask;
                bad.Add(flipped);
            }
        }

        for (int k = 0; k < 100; k++)
        {
            var flipped = (byte[])good.Clone();
            flipped[rng.Next(headerEnd, good.Length)] ^= (byte)(1 << rng.Next(8));
            bad.Add(flipped);
        }

        for (int length = 0; length < good.Length; length += length < headerEnd ? 1 : 7)
        {
            bad.Add(good[..length]);
        }

        bad.Add(good[..^1]);
        bad.Add([.. good, 0]);
        bad.Add([.. good, .. new byte[100]]);
        bad.Add([.. good, .. good]);

        foreach (var bytes in bad)
        {
            Action load = () => sessions[0].LoadState(new MemoryStream(bytes));
            load.Should().Throw<InvalidDataException>();
        }

        bad.Count.Should().BeGreaterThan(1000);
        StatesShouldEqual(sessions, before);
    }

    [Fact]
    public void ForgedHeaders_WithRecomputedChecksums_AreRejected_BeforeAnyPayloadIsRead()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 310));
        using var pool = layer.CreatePool(3);
        var (source, sessions) = Prepare(pool, o);
        var good = Save(source);
        var (section, _) = SnapshotForge.ParseAt(good);
        var before = Snapshot(sessions);
        var target = sessions[0];
        target.LoadState(new MemoryStream(SnapshotForge.Build(section.Header, section.Payload)));
        target.LoadState(new MemoryStream(before[0].Bytes));

        byte[] With(string key, JsonNode? value, byte[]? payload = null)
        {
            var header = section.Header.DeepClone().AsObject();
            header[key] = value;
            return SnapshotForge.Build(header, payload ?? section.Payload);
        }

        byte[] Without(string key)
        {
            var header = section.Header.DeepClone().AsObject();
            header.Remove(key);
            return SnapshotForge.Build(header, section.Payload);
        }

        var fieldAt = section.Payload.Length - o.KvHeads * o.HeadDim * sizeof(double);
        byte[] PayloadWith(int offset, byte[] value)
        {
            var payload = (byte[])section.Payload.Clone();
            value.CopyTo(payload, offset);
            return payload;
        }

        var json = section.Header.ToJsonString();
        var cases = new (string Name, byte[] Bytes, string Message)[]
        {
            ("67M ring rows in a short stream", With("ring_rows", 67_108_864), "*ring rows 67108864 vs 5*"),
            ("huge heads", With("kv_heads", int.MaxValue), "*kvHeads*"),
            ("position long.MaxValue", With("position", long.MaxValue), "*position 9223372036854775807*outside*"),
            ("position past the maximum", With("position", SomaSession.MaxPosition + 1), "*outside*MaxPosition*"),
            ("negative position", With("position", -1), "*position -1*"),
            ("NaN in the field", With("position", 7, PayloadWith(fieldAt, BitConverter.GetBytes(double.NaN))), "*field[0] is NaN*"),
            ("a field beyond fp32", With("position", 7, PayloadWith(fieldAt + 8, BitConverter.GetBytes(1e300))), "*field[1] is 1E+300*"),
            ("infinity in the ring", With("position", 7, PayloadWith(4, BitConverter.GetBytes(float.PositiveInfinity))), "*ring K[1] is *finite*"),
            ("unknown key", With("comment", "hello"), "*comment*"),
            ("duplicate key", SnapshotForge.Build("{\"position\":0," + json[1..], section.Payload), "*position*"),
            ("missing key", Without("layer_index"), "*layer_index*"),
            ("null kind", With("kind", null), "*kind*"),
            ("f32 field in version 2", With("field_dtype", "f32"), "*storage types*"),
            ("f64 ring", With("ring_dtype", "f64"), "*storage types*"),
            ("upper-case ring type", With("ring_dtype", "F16"), "*storage types*"),
            ("f16 ring into an f32 layer", With("ring_dtype", "f16"), "*ring is stored as 'f16'*ConvertRing*"),
            ("weights hash not hex", With("weights_sha256", new string('G', 64)), "*weights_sha256*"),
            ("weights hash missing", With("weights_sha256", null), "*weights_sha256*"),
            ("negative layer index", With("layer_index", -3), "*layer index -3*"),
            ("version 3", SnapshotForge.Build(section.Header, section.Payload, version: 3), "*version 3*"),
            ("a version-2 header labelled version 1", SnapshotForge.Build(section.Header, section.Payload, version: 1), "*version-1 header*"),
            ("trailing JSON", SnapshotForge.Build(json + "{}", section.Payload), "*header*"),
        };

        foreach (var (name, bytes, message) in cases)
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread();
            Action load = () => target.LoadState(new MemoryStream(bytes));
            load.Should().Throw<InvalidDataException>(name).WithMessage(message, name);
            (GC.GetAllocatedBytesForCurrentThread() - allocated).Should().BeLessThan(
                256 * 1024 + 4 * layer.StateBytes, $"{name} allocates no more than the target's state");
        }

        // The 67M-row header in a 700-byte stream, as in the report: refused with a bounded allocation.
        var forged = With("ring_rows", 67_108_864, new byte[700 - section.Header.ToJsonString().Length - 48]);
        long start = GC.GetAllocatedBytesForCurrentThread();
        Action huge = () => target.LoadState(new MemoryStream(forged));
        huge.Should().Throw<InvalidDataException>();
        (GC.GetAllocatedBytesForCurrentThread() - start).Should().BeLessThan(256 * 1024);
        StatesShouldEqual(sessions, before);
    }

    [Fact]
    public void ASnapshotNamesItsLayer_OtherWeightsOrIndexAreRefused_UnlessAllowed()
    {
        var o = Shape();
        using var mine = Engine.CreateLayer(o, TestData.Weights(o, seed: 320));
        using var twin = Engine.CreateLayer(o, TestData.Weights(o, seed: 320));
        using var other = Engine.CreateLayer(o, TestData.Weights(o, seed: 321));
        using var source = mine.CreateSession();
        source.Prefill(TestData.Inputs(o.ModelDim, 7, seed: 322));
        using var saved = new MemoryStream();
        source.SaveState(saved, new SnapshotOptions { LayerIndex = 3 });
        var bytes = saved.ToArray();
        twin.WeightsSha256.Should().Be(mine.WeightsSha256).And.MatchRegex("^[0-9a-f]{64}$");
        other.WeightsSha256.Should().NotBe(mine.WeightsSha256);

        using var foreign = other.CreateSession();
        var before = foreign.DownloadState();
        Action load = () => foreign.LoadState(new MemoryStream(bytes));
        load.Should().Throw<InvalidDataException>()
            .WithMessage($"*other weights*{mine.WeightsSha256[..12]}*{other.WeightsSha256[..12]}*AllowOtherLayer*");
        foreign.Position.Should().Be(0);
        foreign.DownloadState().Field.Should().Equal(before.Field);
        foreign.LoadState(new MemoryStream(bytes), new SnapshotOptions { AllowOtherLayer = true });
        foreign.Position.Should().Be(7);

        using var same = twin.CreateSession();
        Action wrongIndex = () => same.LoadState(new MemoryStream(bytes), new SnapshotOptions { LayerIndex = 5 });
        wrongIndex.Should().Throw<InvalidDataException>().WithMessage("*taken from layer 3; this is layer 5*");
        same.Position.Should().Be(0);
        same.LoadState(new MemoryStream(bytes), new SnapshotOptions { LayerIndex = 3 });
        same.LoadState(new MemoryStream(bytes));
        same.LoadState(new MemoryStream(bytes), new SnapshotOptions { LayerIndex = 5, AllowOtherLayer = true });
        ConsistencySuite.StatesShouldMatch(same, source);
        SnapshotForge.ParseAt(bytes).Section.Header["layer_index"]!.GetValue<int>().Should().Be(3);
        SnapshotForge.ParseAt(Save(source)).Section.Header["layer_index"].Should().BeNull();

        Action negative = () => _ = new SnapshotOptions { LayerIndex = -1 };
        negative.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*LayerIndex*");
    }

    [Fact]
    public void Version1Snapshots_StillLoad_WithEveryBoundCheck()
    {
        var o = Shape();
        var w = TestData.Weights(o, seed: 330);
        var x = TestData.Inputs(o.ModelDim, 12, seed: 331);
        int d = o.ModelDim;
        using var layer = Engine.CreateLayer(o, w);
        using var source = layer.CreateSession();
        using var straight = layer.CreateSession();
        using var restored = layer.CreateSession();
        var expected = straight.Prefill(x);
        source.Prefill(x.AsSpan(0, 8 * d));
        var legacy = SnapshotForge.Legacy(source);

        restored.LoadState(new MemoryStream(legacy));
        restored.Position.Should().Be(8);
        // Version 1 stored the field in fp32: it comes back as the fp64 field rounded once to fp32.
        restored.DownloadState().Field.Should().Equal(source.DownloadState().Field.Select(v => (double)(float)v));
        Tolerance.ShouldMatch(restored.Prefill(x.AsSpan(8 * d)), expected.AsSpan(8 * d), "y after a version-1 snapshot");

        var (section, _) = SnapshotForge.ParseAt(legacy);
        section.Version.Should().Be(1u);
        var far = section.Header.DeepClone().AsObject();
        far["position"] = long.MaxValue;
        var extra = section.Header.DeepClone().AsObject();
        extra["weights_sha256"] = new string('0', 64);
        foreach (var bytes in new[] { SnapshotForge.Build(far, section.Payload, 1), SnapshotForge.Build(extra, section.Payload, 1), [.. legacy, 1] })
        {
            Action load = () => restored.LoadState(new MemoryStream(bytes));
            load.Should().Throw<InvalidDataException>();
        }

        restored.Position.Should().Be(12);
    }

    [Fact]
    public void APositionAtTheMaximum_RefusesTheNextCall_InsteadOfWrapping()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 340));
        using var session = layer.CreateSession();
        var x = TestData.Inputs(o.ModelDim, 2, seed: 341);
        var (ringK, ringV, field) = (TestData.Inputs(o.Window * 12, 1, 342), TestData.Inputs(o.Window * 12, 1, 343), new double[12]);
        session.UploadState(ringK, ringV, field, SomaSession.MaxPosition - 1);

        Action prefillPast = () => session.Prefill(x);
        prefillPast.Should().Throw<InvalidOperationException>().WithMessage("*MaxPosition*");
        session.Decode(x.AsSpan(0, o.ModelDim)).Should().OnlyContain(v => float.IsFinite(v));
        session.Position.Should().Be(SomaSession.MaxPosition);
        var before = session.DownloadState();

        Action decode = () => session.Decode(x.AsSpan(0, o.ModelDim));
        decode.Should().Throw<InvalidOperationException>().WithMessage($"*position {SomaSession.MaxPosition}*MaxPosition*");
        session.Position.Should().Be(SomaSession.MaxPosition);
        session.DownloadState().RingK.Should().Equal(before.RingK);

        // A snapshot at the maximum loads (and refuses the next call the same way); one past it does not.
        using var restored = layer.CreateSession();
        restored.LoadState(new MemoryStream(Save(session)));
        decode = () => restored.Decode(x.AsSpan(0, o.ModelDim));
        decode.Should().Throw<InvalidOperationException>().WithMessage("*MaxPosition*");
        Action upload = () => session.UploadState(ringK, ringV, field, SomaSession.MaxPosition + 1);
        upload.Should().Throw<ArgumentOutOfRangeException>();
    }

    [Fact]
    public void AModelSnapshot_DoesNotLoadIntoOneLayer()
    {
        var o = Shape();
        var w = TestData.Weights(o, seed: 350);
        using var model = Engine.CreateModel(o, new[] { w, w });
        using var layer = Engine.CreateLayer(o, w);
        using var sequence = model.CreateSession();
        sequence.Prefill(TestData.Inputs(o.ModelDim, 4, seed: 351));
        using var saved = new MemoryStream();
        sequence.SaveState(saved);
        using var session = layer.CreateSession();

        Action load = () => session.LoadState(new MemoryStream(saved.ToArray()));
        load.Should().Throw<InvalidDataException>().WithMessage("*model's snapshot*SomaModelSession.LoadState*");

        // Nor does its first section with the rest of the model behind it.
        Action firstSection = () => session.LoadState(new MemoryStream(saved.ToArray()[16..]));
        firstSection.Should().Throw<InvalidDataException>().WithMessage("*goes on after*");
        session.Position.Should().Be(0);
    }

    private static (SomaSession Source, SomaSession[] Sessions) Prepare(SomaSessionPool pool, SomaLayerOptions o)
    {
        var sessions = Enumerable.Range(0, 3).Select(_ => pool.OpenSession()).ToArray();
        for (int s = 0; s < sessions.Length; s++)
        {
            sessions[s].Prefill(TestData.Inputs(o.ModelDim, 3 + 2 * s, seed: 360 + s));
        }

        var source = pool.Layer.CreateSession();
        source.Prefill(TestData.Inputs(o.ModelDim, 7, seed: 369));
        return (source, sessions);
    }

    private static byte[] Save(SomaSession session) => SnapshotForge.Save(session);

    private static (byte[] Bytes, (float[] RingK, float[] RingV, double[] Field) State, long Position)[] Snapshot(SomaSession[] sessions) =>
        sessions.Select(s => (Save(s), s.DownloadState(), s.Position)).ToArray();

    private static void StatesShouldEqual(SomaSession[] sessions, (byte[] Bytes, (float[] RingK, float[] RingV, double[] Field) State, long Position)[] before)
    {
        for (int s = 0; s < sessions.Length; s++)
        {
            sessions[s].Position.Should().Be(before[s].Position, $"session {s}'s position is unchanged");
            var after = sessions[s].DownloadState();
            after.RingK.Should().Equal(before[s].State.RingK, $"session {s}'s ring K is unchanged");
            after.RingV.Should().Equal(before[s].State.RingV, $"session {s}'s ring V is unchanged");
            after.Field.Should().Equal(before[s].State.Field, $"session {s}'s field is unchanged");
        }
    }
}
