using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;
using Soma;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// Device-resident I/O: calls whose x and y are views on the engine's accelerator give the span calls' values bit for
/// bit (decode, one- and several-pass prefill, batches, models, in place and on a caller's stream), copy neither x nor
/// y (the profile's bytes), wait once; bad views are refused before anything changes; an engine attached to a caller's
/// accelerator leaves it usable when disposed.
/// </summary>
public abstract class DeviceIoSuite
{
    protected DeviceIoSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    // D = 12, H = 4, Hkv = 2, dh = 6, W = 4, RoPE on, passes of at most 5 rows.
    private static SomaLayerOptions Shape() => new(12, 4, 2, 6, window: 4, ropeTheta: 10000.0, maxChunkTokens: 5);

    private const int D = 12;

    [Fact]
    public void SessionCalls_OnDeviceViews_EqualSpanCalls_BitForBit()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 400, biases: true));
        using var host = layer.CreateSession();
        using var device = layer.CreateSession();

        // 11 rows: three passes of at most 5, their metadata packed into one upload block.
        var prompt = TestData.Inputs(D, 11, seed: 401);
        Equal(host.Prefill(prompt), OnDevice(prompt, (x, y) => device.Prefill(x, y)), "an 11-token prefill in three passes");
        ConsistencySuite.StatesShouldMatch(device, host);
        for (int step = 0; step < 3; step++)
        {
            var token = TestData.Inputs(D, 1, seed: 402 + step);
            Equal(host.Decode(token), OnDevice(token, (x, y) => device.Decode(x, y)), $"decode step {step}");
        }

        var short_ = TestData.Inputs(D, 3, seed: 406);
        Equal(host.Prefill(short_), InPlace(short_, v => device.Prefill(v, v)), "a one-pass prefill in place");
        var last = TestData.Inputs(D, 1, seed: 407);
        using var stream = Engine.Accelerator.CreateStream();
        Equal(host.Decode(last), OnDevice(last, (x, y) => device.Decode(x, y, stream)), "a decode on the caller's stream");
        ConsistencySuite.StatesShouldMatch(device, host);
        device.Position.Should().Be(host.Position).And.Be(18);
    }

    [Fact]
    public void BatchCalls_OnDeviceViews_EqualSpanCalls_BitForBit()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 410));
        using var hostPool = layer.CreatePool(3);
        using var devicePool = layer.CreatePool(3);
        var host = Enumerable.Range(0, 3).Select(_ => hostPool.OpenSession()).ToArray();
        var device = Enumerable.Range(0, 3).Select(_ => devicePool.OpenSession()).ToArray();
        int[] lengths = { 2, 0, 7 };

        var prompts = TestData.Inputs(D, 9, seed: 411);
        Equal(layer.PrefillBatch(host, lengths, prompts), OnDevice(prompts, (x, y) => layer.PrefillBatch(device, lengths, x, y)), "a batched prefill");
        for (int step = 0; step < 2; step++)
        {
            var tokens = TestData.Inputs(D, 3, seed: 412 + step);
            Equal(layer.DecodeBatch(host, tokens), OnDevice(tokens, (x, y) => layer.DecodeBatch(device, x, y)), $"batched decode step {step}");
        }

        for (int s = 0; s < 3; s++)
        {
            ConsistencySuite.StatesShouldMatch(device[s], host[s]);
        }
    }

    [Fact]
    public void ModelCalls_OnDeviceViews_EqualSpanCalls_BitForBit()
    {
        var o = Shape();
        using var model = Engine.CreateModel(o, Enumerable.Range(0, 3).Select(l => TestData.Weights(o, seed: 420 + l)).ToArray());
        using var host = model.CreateSession();
        using var device = model.CreateSession();

        var prompt = TestData.Inputs(D, 11, seed: 423);
        Equal(host.Prefill(prompt), OnDevice(prompt, (x, y) => device.Prefill(x, y)), "an 11-token prefill through three layers");
        var token = TestData.Inputs(D, 1, seed: 424);
        Equal(host.Decode(token), OnDevice(token, (x, y) => device.Decode(x, y)), "a decode step");
        var again = TestData.Inputs(D, 1, seed: 425);
        Equal(host.Decode(again), InPlace(again, v => device.Decode(v, v)), "a decode step in place");

        using var hostPool = model.CreatePool(2);
        using var devicePool = model.CreatePool(2);
        var hostBatch = new[] { hostPool.OpenSession(), hostPool.OpenSession() };
        var deviceBatch = new[] { devicePool.OpenSession(), devicePool.OpenSession() };
        var prompts = TestData.Inputs(D, 4, seed: 426);
        Equal(
            model.PrefillBatch(hostBatch, new[] { 1, 3 }, prompts),
            OnDevice(prompts, (x, y) => model.PrefillBatch(deviceBatch, new[] { 1, 3 }, x, y)), "a batched model prefill");
        var tokens = TestData.Inputs(D, 2, seed: 427);
        Equal(model.DecodeBatch(hostBatch, tokens), OnDevice(tokens, (x, y) => model.DecodeBatch(deviceBatch, x, y)), "a batched model decode");
        for (int l = 0; l < 3; l++)
        {
            ConsistencySuite.StatesShouldMatch(device.Sessions[l], host.Sessions[l]);
            ConsistencySuite.StatesShouldMatch(deviceBatch[1].Sessions[l], hostBatch[1].Sessions[l]);
        }
    }

    [Fact]
    public void DecodeOnDeviceViews_CopiesNeitherXNorY_AndWaitsOnce()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 430));
        using var session = layer.CreateSession();
        var (host, device) = HostThenDevice(x => session.Decode(x), (x, y) => session.Decode(x, y), () => layer.LastCallProfile!, seed: 431);

        device.LaunchesByKernel.Should().BeEquivalentTo(host.LaunchesByKernel);
        (device.Uploads, device.Downloads, device.HostWaits, device.DeviceCopies).Should().Be((1, 0, 1, 0), "the metadata block up; one wait; the commit saves in its own launch");
        device.DownloadBytes.Should().Be(0, "y stays on the device");
        device.UploadBytes.Should().Be(sizeof(int) * (3 + 5), "only the pass's metadata: 3n + 5g ints for n = g = 1");
        (host.UploadBytes - device.UploadBytes).Should().Be(sizeof(float) * D, "the host call's upload block also carries x; the device call's does not");
        host.DownloadBytes.Should().Be(sizeof(float) * D);
    }

    [Fact]
    public void ModelDecodeStepOnDeviceViews_CopiesNeitherXNorY_AndWaitsOnce()
    {
        var o = Shape();
        using var model = Engine.CreateModel(o, Enumerable.Range(0, 3).Select(l => TestData.Weights(o, seed: 435 + l)).ToArray());
        using var session = model.CreateSession();
        var (host, device) = HostThenDevice(x => session.Decode(x), (x, y) => session.Decode(x, y), () => model.LastCallProfile!, seed: 438);

        (device.Uploads, device.Downloads, device.HostWaits).Should().Be((3, 0, 1), "each layer's metadata block; nothing down; one wait for the whole step");
        device.DownloadBytes.Should().Be(0);
        device.UploadBytes.Should().Be(3 * sizeof(int) * (3 + 5), "each layer's metadata only");
        (host.UploadBytes - device.UploadBytes).Should().Be(sizeof(float) * D, "x is uploaded by no layer");
        device.Launches.Should().Be(host.Launches);
    }

    [Fact]
    public void PrefillOfSeveralPassesOnDeviceViews_SendsItsPassesMetadataInOneUpload_AndWaitsOnce()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 455, biases: true));
        using var host = layer.CreateSession();
        using var device = layer.CreateSession();

        var prompt = TestData.Inputs(D, 11, seed: 456);
        Equal(host.Prefill(prompt), OnDevice(prompt, (x, y) => device.Prefill(x, y)), "an 11-token prefill in three passes");
        var p = layer.LastCallProfile!;
        (p.Passes, p.Uploads, p.Downloads, p.HostWaits).Should().Be((3, 1, 0, 1), "the three passes' metadata up in one block; one wait, at the end");
        p.UploadBytes.Should().Be(sizeof(int) * (2 * (3 * 5 + 5) + (3 * 1 + 5)), "3n + 5g ints a pass, nothing else");

        // 70 rows: 14 passes of 20 metadata ints overflow the 260 ints of the block (16 rows of D = 12 and 4 segments):
        // the first 13 go up together, the host waits once to pack the block again, the 14th follows.
        var longer = TestData.Inputs(D, 70, seed: 457);
        Equal(host.Prefill(longer), OnDevice(longer, (x, y) => device.Prefill(x, y)), "a 70-token prefill in 14 passes");
        p = layer.LastCallProfile!;
        (p.Passes, p.Uploads, p.HostWaits).Should().Be((14, 2, 2));
        ConsistencySuite.StatesShouldMatch(device, host);

        using var model = Engine.CreateModel(o, Enumerable.Range(0, 3).Select(l => TestData.Weights(o, seed: 458 + l)).ToArray());
        using var hostModel = model.CreateSession();
        using var deviceModel = model.CreateSession();
        Equal(hostModel.Prefill(prompt), OnDevice(prompt, (x, y) => deviceModel.Prefill(x, y)), "an 11-token prefill through three layers");
        var m = model.LastCallProfile!;
        (m.Passes, m.Uploads, m.Downloads, m.HostWaits).Should().Be((9, 3, 0, 1), "per layer one block of its three passes' metadata; one wait for the model step");
    }

    [Fact]
    public void BadViews_AreRefused_NamingTheArgument_BeforeAnythingChanges()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 440));
        using var session = layer.CreateSession();
        session.Prefill(TestData.Inputs(D, 3, seed: 441));
        var before = session.DownloadState();
        using var buffer = Engine.Accelerator.Allocate1D<float>(4 * D);
        var view = (ArrayView<float>)buffer.View;
        using var otherContext = Context.Create(b => b.CPU(new CPUDevice(2, 1, 1)));
        using var other = otherContext.CreateCPUAccelerator(0);
        using var foreign = other.Allocate1D<float>(D);
        using var foreignStream = other.CreateStream();

        Refused(() => session.Decode(view.SubView(0, D - 1), view.SubView(D, D)), "x");
        Refused(() => session.Decode(view.SubView(0, D), view.SubView(D, D - 1)), "y");
        Refused(() => session.Decode(default(ArrayView<float>), view.SubView(D, D)), "x");
        Refused(() => session.Decode(foreign.View, view.SubView(D, D)), "x");
        Refused(() => session.Decode(view.SubView(0, D), foreign.View), "y");
        Refused(() => session.Decode(view.SubView(0, D), view.SubView(D / 2, D)), "y");
        Refused(() => session.Decode(view.SubView(0, D), view.SubView(D, D), foreignStream), "stream");
        Refused(() => session.Prefill(view.SubView(0, D + 1), view.SubView(2 * D, 2 * D)), "x");
        Refused(() => session.Prefill(view.SubView(0, 2 * D), view.SubView(2 * D, D)), "y");
        using var pool = layer.CreatePool(2);
        var batch = new[] { pool.OpenSession(), pool.OpenSession() };
        Refused(() => layer.DecodeBatch(batch, view.SubView(0, D), view.SubView(2 * D, 2 * D)), "x");
        Refused(() => layer.PrefillBatch(batch, new[] { 1, 1 }, view.SubView(0, 2 * D), view.SubView(D, 2 * D)), "y");

        session.Position.Should().Be(3);
        var after = session.DownloadState();
        after.RingK.Should().Equal(before.RingK);
        after.RingV.Should().Equal(before.RingV);
        after.Field.Should().Equal(before.Field);
        batch.Should().OnlyContain(s => s.Position == 0);
        layer.LastCallProfile!.Rows.Should().Be(3, "no refused call completed");
    }

    [Fact]
    public void AFailedModelStepOnDeviceViews_LeavesEveryLayerAsItWas()
    {
        var o = Shape();
        using var model = Engine.CreateModel(o, Enumerable.Range(0, 3).Select(l => TestData.Weights(o, seed: 445 + l)).ToArray());
        using var session = model.CreateSession();
        session.Prefill(TestData.Inputs(D, 5, seed: 448));
        var before = session.Sessions.Select(s => s.DownloadState()).ToArray();
        model.Layers[2].BeforeStage = stage =>
        {
            if (stage == "commit")
            {
                throw new InvalidOperationException("injected fault");
            }
        };

        var call = () => OnDevice(TestData.Inputs(D, 1, seed: 449), (x, y) => session.Decode(x, y));

        call.Should().Throw<InvalidOperationException>().WithMessage("injected fault");
        model.Layers[2].BeforeStage = null;
        for (int l = 0; l < 3; l++)
        {
            session.Sessions[l].Position.Should().Be(5);
            var after = session.Sessions[l].DownloadState();
            after.RingK.Should().Equal(before[l].RingK, $"layer {l}'s ring K (its commit ran before layer 2 failed)");
            after.RingV.Should().Equal(before[l].RingV);
            after.Field.Should().Equal(before[l].Field);
        }
    }

    [Fact]
    public void AnAttachedEngine_RunsOnTheCallersAccelerator_AndLeavesItUsableWhenDisposed()
    {
        using var context = Context.Create(builder =>
        {
            _ = Engine.Device.Kind switch
            {
                SomaAcceleratorKind.Cuda => builder.Cuda(),
                SomaAcceleratorKind.OpenCL => builder.OpenCL(),
                _ => builder.CPU(new CPUDevice(2, 1, 1)),
            };
            builder.EnableAlgorithms();
        });
        var type = Engine.Device.Kind switch
        {
            SomaAcceleratorKind.Cuda => AcceleratorType.Cuda,
            SomaAcceleratorKind.OpenCL => AcceleratorType.OpenCL,
            _ => AcceleratorType.CPU,
        };
        using var accelerator = context.Devices.First(d => d.AcceleratorType == type).CreateAccelerator(context);
        var o = Shape();
        var weights = TestData.Weights(o, seed: 450);
        var x = TestData.Inputs(D, 2, seed: 451);
        float[] expected;
        using (var own = Engine.CreateLayer(o, weights))
        using (var s = own.CreateSession())
        {
            expected = s.Prefill(x);
        }

        using var input = accelerator.Allocate1D(x);
        using var output = accelerator.Allocate1D<float>(x.Length);
        var attached = SomaEngine.Attach(accelerator);
        attached.IsAttached.Should().BeTrue();
        ReferenceEquals(attached.Accelerator, accelerator).Should().BeTrue();
        var layer = attached.CreateLayer(o, weights);
        var session = layer.CreateSession();
        session.Prefill(input.View, output.View);
        output.GetAsArray1D().Should().Equal(expected, "the same kernels on the caller's accelerator");
        attached.AllocatedBytes.Should().BePositive();

        attached.Dispose();

        attached.AllocatedBytes.Should().Be(0, "disposing the engine freed what Soma allocated");
        accelerator.IsDisposed.Should().BeFalse("the engine never disposes a caller's accelerator");
        using var after = accelerator.Allocate1D(new float[] { 1, 2, 3 });
        var scale = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>>(Twice);
        scale((int)after.Length, after.View);
        accelerator.Synchronize();
        after.GetAsArray1D().Should().Equal(2f, 4f, 6f);
        input.GetAsArray1D().Should().Equal(x, "the caller's buffers are untouched by the engine's disposal");
    }

    /// <summary>The profiles of a decode step on host spans, then of one on device views.</summary>
    private (SomaCallProfile Host, SomaCallProfile Device) HostThenDevice(
        Action<float[]> host, Action<ArrayView<float>, ArrayView<float>> device, Func<SomaCallProfile> profile, int seed)
    {
        host(TestData.Inputs(D, 1, seed));
        var onHost = profile();
        OnDevice(TestData.Inputs(D, 1, seed + 1), device);
        return (onHost, profile());
    }

    /// <summary>A caller's own kernel: doubles every value.</summary>
    private static void Twice(Index1D i, ArrayView<float> values) => values[i] *= 2;

    /// <summary>Asserts two outputs are equal bit for bit.</summary>
    private static void Equal(float[] span, float[] device, string what) =>
        device.Select(BitConverter.SingleToInt32Bits).Should().Equal(span.Select(BitConverter.SingleToInt32Bits), what + ": bit for bit");

    /// <summary>Runs <paramref name="call"/> on device copies of <paramref name="x"/> and a fresh y; returns y.</summary>
    private float[] OnDevice(float[] x, Action<ArrayView<float>, ArrayView<float>> call)
    {
        using var input = Engine.Accelerator.Allocate1D(x);
        using var output = Engine.Accelerator.Allocate1D<float>(x.Length);
        call(input.View, output.View);
        return output.GetAsArray1D();
    }

    /// <summary>Runs <paramref name="call"/> in place on a device copy of <paramref name="x"/>; returns what it holds after.</summary>
    private float[] InPlace(float[] x, Action<ArrayView<float>> call)
    {
        using var rows = Engine.Accelerator.Allocate1D(x);
        call(rows.View);
        return rows.GetAsArray1D();
    }

    private static void Refused(Action call, string argument) =>
        call.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(argument);
}
