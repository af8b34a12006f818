using System.Diagnostics;
using System.Diagnostics.Metrics;
using Soma;
using Soma.Internal;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// The profile the runtime counts for every call (<see cref="SomaLayer.LastCallProfile"/>,
/// <see cref="SomaModel.LastCallProfile"/>): exact launches, copies and host waits of decode, batched decode, one- and
/// several-pass prefill and a model step; device bytes and FLOPs of one small decode from formulas written here; the
/// same call seen through the Meter and ActivitySource "Soma".
/// </summary>
public abstract class ProfileSuite
{
    protected ProfileSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    // D = 12, H = 4, Hkv = 2, dh = 6, W = 4, RoPE on, passes of at most 5 rows.
    private static SomaLayerOptions Shape() => new(12, 4, 2, 6, window: 4, ropeTheta: 10000.0, maxChunkTokens: 5);

    /// <summary>
    /// The launches of <paramref name="passes"/> passes of shape <paramref name="key"/>: on the CPU accelerator the six
    /// of an unsplit prefill pass, or the four of an unsplit decode pass (one row per segment: its QKV epilogue computes
    /// the RoPE angles and the field's step, so it launches no rope-table and no field-scan), asserted literally (its
    /// plans of these small shapes split nothing); on a GPU, whose plans split these tiny passes, also the reduce and
    /// combine launches of the engine's plan.
    /// </summary>
    private Dictionary<string, int> OnePass(PlanKey key, int passes = 1)
    {
        var expected = new Dictionary<string, int> { ["qkv"] = passes, ["attention"] = passes, ["linear"] = passes, ["commit"] = passes };
        if (!key.Decode)
        {
            (expected["rope-table"], expected["field-scan"]) = (passes, passes);
        }

        var plan = PlanOf(key);
        if (Engine.Device.Kind == SomaAcceleratorKind.Cpu)
        {
            (plan.QkvPartial, plan.AttentionSplits, plan.OutPartial).Should().Be((0L, 1, 0L), "the CPU accelerator splits no pass of these shapes");
        }

        foreach (var (name, split) in new[] { ("qkv-reduce", plan.QkvPartial > 0), ("attention-combine", plan.AttentionSplits > 1), ("linear-reduce", plan.OutPartial > 0) })
        {
            if (split)
            {
                expected[name] = passes;
            }
        }

        return expected;
    }

    /// <summary>The engine's plan of a pass of shape <paramref name="key"/> of this suite's layer.</summary>
    private LaunchPlan PlanOf(PlanKey key)
    {
        var o = Shape();
        return LaunchPlan.Create(Engine.Shapes, o, false, Engine.Shapes.AttentionHeadsPerGroup(o.HeadsPerKvHead, o.HeadDim), key);
    }

    // Decode at position 3 of one session: K = 4 keys, 1 commit row; the keys of the other calls below.
    private static readonly PlanKey DecodeAt3 = new(1, 1, 4, 1);

    [Fact]
    public void DecodeStep_CountsFourLaunches_OneUpload_OneDownload_OneHostWait()
    {
        var p = DecodeAfterThreeTokens(seed: 300);
        p.Kind.Should().Be(SomaCallKind.Decode);
        (p.Rows, p.Sessions, p.Passes).Should().Be((1, 1, 1));
        p.LaunchesByKernel.Should().BeEquivalentTo(OnePass(DecodeAt3));
        p.LaunchesByKernel.Should().NotContainKeys(new[] { "rope-table", "field-scan" }, "the QKV epilogue computes the angles and the field's step");
        p.Launches.Should().Be(p.LaunchesByKernel.Count);
        var plan = PlanOf(DecodeAt3);
        p.Launches.Should().Be(
            4 + (plan.QkvPartial > 0 ? 1 : 0) + (plan.AttentionSplits > 1 ? 1 : 0) + (plan.OutPartial > 0 ? 1 : 0),
            "qkv, attention, output and commit, and the plan's split-K reduces and split combine");
        if (Engine.Device.Kind == SomaAcceleratorKind.Cpu)
        {
            p.Launches.Should().Be(4);
        }

        (p.Uploads, p.Downloads, p.HostWaits).Should().Be((1, 1, 1), "x and the pass's metadata up in one block, y down; one wait, after the commit");
        p.DeviceCopies.Should().Be(0, "the commit saves what it overwrites in the same launch: no device copies");
        p.DownloadBytes.Should().Be(sizeof(float) * 12, "y, one row of D = 12");
        p.UploadBytes.Should().Be(MetadataBytes(1, 1) + sizeof(float) * 12, "the pass's metadata and x in one block");
    }

    [Fact]
    public void BatchedDecode_CountsOnePassForEverySession()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 303));
        using var pool = layer.CreatePool(3);
        var sessions = Enumerable.Range(0, 3).Select(_ => pool.OpenSession()).ToArray();
        layer.DecodeBatch(sessions, TestData.Inputs(o.ModelDim, 3, seed: 304));

        var p = layer.LastCallProfile!;
        p.Kind.Should().Be(SomaCallKind.Decode);
        (p.Rows, p.Sessions, p.Passes).Should().Be((3, 3, 1));
        p.LaunchesByKernel.Should().BeEquivalentTo(OnePass(new PlanKey(3, 3, 1, 1)));
        (p.Uploads, p.Downloads, p.HostWaits, p.DeviceCopies).Should().Be((1, 1, 1, 0));
        (p.UploadBytes, p.DownloadBytes).Should().Be((MetadataBytes(3, 3) + sizeof(float) * 3 * 12, sizeof(float) * 3 * 12));
    }

    /// <summary>Bytes of a pass's metadata: 3n + 5g ints for n rows in g segments (positions as longs).</summary>
    private static long MetadataBytes(int rows, int segments) => sizeof(int) * (3L * rows + 5L * segments);

    [Fact]
    public void Prefill_InOnePass_AndInSeveralPasses_CountsEveryPass()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 305));
        using var session = layer.CreateSession();
        session.Prefill(TestData.Inputs(o.ModelDim, 4, seed: 306));

        var one = layer.LastCallProfile!;
        one.Kind.Should().Be(SomaCallKind.Prefill);
        (one.Rows, one.Sessions, one.Passes).Should().Be((4, 1, 1));
        one.LaunchesByKernel.Should().BeEquivalentTo(OnePass(new PlanKey(4, 1, 4, 4)));
        (one.Uploads, one.Downloads, one.HostWaits, one.DeviceCopies).Should().Be((1, 1, 1, 0), "the commit saves what it overwrites itself");

        // 11 rows in passes of at most 5: three passes, each committed as it goes, pipelined.
        session.Prefill(TestData.Inputs(o.ModelDim, 11, seed: 307));
        var three = layer.LastCallProfile!;
        three.Kind.Should().Be(SomaCallKind.Prefill);
        (three.Rows, three.Sessions, three.Passes).Should().Be((11, 1, 3));
        var passes = OnePass(new PlanKey(5, 1, 4, 4), 2);
        foreach (var (kernel, count) in OnePass(new PlanKey(1, 1, 4, 1)))
        {
            passes[kernel] = passes.GetValueOrDefault(kernel) + count;
        }

        three.LaunchesByKernel.Should().BeEquivalentTo(passes, "passes of 5, 5 and 1 rows, each over all W = 4 keys");
        if (Engine.Device.Kind == SomaAcceleratorKind.Cpu)
        {
            three.Launches.Should().Be(16, "6 + 6 + 4: the one-row pass is a decode pass");
        }
        (three.Uploads, three.Downloads).Should().Be((3, 3), "per pass one block (x and metadata) up, y down");
        (one.UploadBytes, one.DownloadBytes).Should().Be((MetadataBytes(4, 1) + sizeof(float) * 4 * 12, sizeof(float) * 4 * 12));
        (three.UploadBytes, three.DownloadBytes).Should().Be(
            (2 * MetadataBytes(5, 1) + MetadataBytes(1, 1) + sizeof(float) * 11 * 12, sizeof(float) * 11 * 12), "x and y once, metadata per pass");
        three.HostWaits.Should().Be(9, "per pass: its upload and its compute; the previous pass's download (twice); the last download");
        three.DeviceCopies.Should().Be(0, "each pass's commit saves what the call had not yet overwritten, in its own launch");
    }

    [Fact]
    public void ModelDecodeStep_IsEveryLayersStep_Summed()
    {
        var o = Shape();
        var weights = Enumerable.Range(0, 3).Select(l => TestData.Weights(o, seed: 310 + l)).ToArray();
        using var model = Engine.CreateModel(o, weights);
        using var session = model.CreateSession();
        model.LastCallProfile.Should().BeNull();
        session.Prefill(TestData.Inputs(o.ModelDim, 2, seed: 313));
        session.Decode(TestData.Inputs(o.ModelDim, 1, seed: 314));

        var p = model.LastCallProfile!;
        p.Kind.Should().Be(SomaCallKind.Decode);
        (p.Rows, p.Sessions, p.Passes).Should().Be((1, 1, 3));
        p.LaunchesByKernel.Should().BeEquivalentTo(OnePass(new PlanKey(1, 1, 3, 1), 3));
        (p.Uploads, p.Downloads, p.HostWaits, p.DeviceCopies).Should().Be(
            (3, 1, 1, 0), "a block per layer (x with the first layer's), y down from the last layer, one wait for the step");
        for (int l = 0; l < model.Layers.Count; l++)
        {
            var part = model.Layers[l].LastCallProfile!;
            part.LaunchesByKernel.Should().BeEquivalentTo(OnePass(new PlanKey(1, 1, 3, 1)));
            bool last = l == model.Layers.Count - 1;
            (part.Uploads, part.Downloads, part.HostWaits).Should().Be((1, last ? 1 : 0, last ? 1 : 0), "layers hand rows on in device memory");
        }

        p.UploadBytes.Should().Be(model.Layers.Sum(l => l.LastCallProfile!.UploadBytes));
        (p.UploadBytes, p.DownloadBytes).Should().Be((3 * MetadataBytes(1, 1) + sizeof(float) * 12, sizeof(float) * 12), "x and y once; metadata per layer");

        p.DeviceBytesRead.Should().Be(model.Layers.Sum(l => l.LastCallProfile!.DeviceBytesRead));
        p.Flops.Should().Be(model.Layers.Sum(l => l.LastCallProfile!.Flops));
    }

    [Fact]
    public void DecodeStep_BytesAndFlops_FollowFromTheShapes()
    {
        var p = DecodeAfterThreeTokens(seed: 315);
        var plan = PlanOf(DecodeAt3);
        (p.DeviceBytesRead, p.DeviceBytesWritten, p.Flops).Should().Be(
            (plan.Cost.BytesRead + plan.Cost.CommitBytes, plan.Cost.BytesWritten + plan.Cost.CommitBytes, plan.Cost.Flops), "the call's one pass and commit");
        if (plan.QkvPartial > 0 || plan.AttentionSplits > 1 || plan.OutPartial > 0)
        {
            return; // the formulas below are those of an unsplit pass (every pass on the CPU accelerator)
        }

        // One row at position 3 of one session: attends over K = min(W, 3 + 1) = 4 ring keys, commits 1 ring row.
        const long n = 1, d = 12, h = 4, hkv = 2, dh = 6, g = 1, keys = 4, commitRows = 1;
        const long m = (h + 2 * hkv) * dh, q = h * dh, c = hkv * dh;
        long read =
            4 * (n * d + d * m + m) + (8 * n + 8 * (dh / 2)) + (8 * g * c + 4 * hkv) // qkv: x, weights, bias; positions, inverse frequencies; field, gamma
            + 4 * (n * q + 2 * n * c + 2 * g * keys * c + n * c + h)                // attention: q, k and v, ring K and V, field, alpha
            + 4 * (n * q + q * d + d)                                               // output projection
            + 2 * (4 * 2 * g * commitRows * c + 8 * g * c);                         // commit: ring rows and field, and what they overwrite
        long written =
            (4 * n * (q + 3 * c) + 8 * g * c) + 4 * n * q + 4 * n * d + 2 * (4 * 2 * g * commitRows * c + 8 * g * c); // qkv: q, field before, k, v; field after; commit and its save
        long flops = 2 * n * d * m + 3 * n * c + 4 * n * h * dh * keys + 2 * n * q * d;

        p.DeviceBytesRead.Should().Be(read);
        p.DeviceBytesWritten.Should().Be(written);
        p.Flops.Should().Be(flops);
    }

    [Fact]
    public void EveryCall_IsSeenByTheMeterAndTheActivitySourceNamedSoma()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 318));
        using var session = layer.CreateSession();
        var longs = new List<(string Name, long Value, object? Kind)>();
        var durations = new List<double>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, Engine.Telemetry.Meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) => longs.Add((instrument.Name, value, KindOf(tags))));
        meters.SetMeasurementEventCallback<double>((instrument, value, _, _) => durations.Add(value));
        meters.Start();
        var activities = new List<Activity>();
        using var spans = new ActivityListener
        {
            ShouldListenTo = source => ReferenceEquals(source, Engine.Telemetry.Source),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activities.Add,
        };
        ActivitySource.AddActivityListener(spans);

        session.Prefill(TestData.Inputs(o.ModelDim, 2, seed: 319));
        session.Decode(TestData.Inputs(o.ModelDim, 1, seed: 320));

        Engine.Telemetry.Meter.Name.Should().Be("Soma");
        Engine.Telemetry.Source.Name.Should().Be("Soma");
        longs.Where(m => m.Name == "soma.calls").Should().Equal(("soma.calls", 1L, "prefill"), ("soma.calls", 1L, "decode"));
        long prefillLaunches = OnePass(new PlanKey(2, 1, 2, 2)).Values.Sum();
        longs.Where(m => m.Name == "soma.launches").Select(m => m.Value).Should().Equal(prefillLaunches, layer.LastCallProfile!.Launches);
        long bytes = layer.LastCallProfile!.DeviceBytesRead + layer.LastCallProfile.DeviceBytesWritten;
        longs.Where(m => m.Name == "soma.device.bytes").Select(m => m.Value).Last().Should().Be(bytes);
        durations.Should().HaveCount(2).And.OnlyContain(ms => ms >= 0);

        activities.Should().HaveCount(2);
        activities.Should().OnlyContain(a => a.OperationName == "soma.call" && a.Source.Name == "Soma");
        var decode = activities[1];
        decode.GetTagItem("soma.kind").Should().Be("decode");
        decode.GetTagItem("soma.rows").Should().Be(1);
        decode.GetTagItem("soma.sessions").Should().Be(1);
        decode.GetTagItem("soma.launches").Should().Be(layer.LastCallProfile.Launches);
        activities[0].GetTagItem("soma.rows").Should().Be(2);
    }

    /// <summary>The profile of a decode step at position 3 of a new layer's session (after a prefill of 3 tokens).</summary>
    private SomaCallProfile DecodeAfterThreeTokens(int seed)
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed));
        using var session = layer.CreateSession();
        layer.LastCallProfile.Should().BeNull("no call has completed yet");
        session.Prefill(TestData.Inputs(o.ModelDim, 3, seed + 1));
        session.Decode(TestData.Inputs(o.ModelDim, 1, seed + 2));
        return layer.LastCallProfile!;
    }

    private static object? KindOf(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == "soma.kind")
            {
                return tag.Value;
            }
        }

        return null;
    }
}
