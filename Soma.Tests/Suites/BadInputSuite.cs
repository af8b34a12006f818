using Soma;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// Bad input gets a clear exception naming the argument, before any device write, and the session stays exactly as
/// it was: continuing afterwards gives the numbers an undisturbed session gives.
/// </summary>
public abstract class BadInputSuite
{
    protected BadInputSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    private static SomaLayerOptions Shape() => new(12, 4, 2, 4, window: 3, ropeTheta: 10000.0, maxChunkTokens: 4);

    [Fact]
    public void Options_RejectBadShapes_NamingTheArgument()
    {
        Invoking(() => new SomaLayerOptions(12, 4, 3, 4, 3)).Should().Throw<ArgumentException>().WithParameterName("heads").WithMessage("*multiple of kvHeads*");
        Invoking(() => new SomaLayerOptions(12, 4, 2, 4, 0)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("window");
        Invoking(() => new SomaLayerOptions(0, 4, 2, 4, 3)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("modelDim");
        Invoking(() => new SomaLayerOptions(12, 4, 2, 0, 3)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("headDim");
        Invoking(() => new SomaLayerOptions(12, 4, 2, 5, 3, ropeTheta: 10000.0)).Should().Throw<ArgumentException>().WithParameterName("headDim").WithMessage("*even*");
        Invoking(() => new SomaLayerOptions(12, 4, 2, 4, 3, ropeTheta: 1.0)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("ropeTheta");
        Invoking(() => new SomaLayerOptions(12, 4, 2, 4, 3, scale: 0.0)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("scale");
        Invoking(() => new SomaLayerOptions(12, 4, 2, 4, 3, scale: double.NaN)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("scale");
        Invoking(() => new SomaLayerOptions(12, 4, 2, 4, 3, maxChunkTokens: 0)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("maxChunkTokens");
        Invoking(() => new SomaEngineOptions(cpuThreadsPerWarp: 3)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("cpuThreadsPerWarp");
        Invoking(() => SomaEngineOptions.ParseKind("tpu")).Should().Throw<ArgumentException>().WithMessage("*auto, cpu, cuda or opencl*");
    }

    [Theory]
    [InlineData(1.0f)]
    [InlineData(-0.1f)]
    [InlineData(float.NaN)]
    public void Weights_RejectGammaOutsideUnitInterval_BeforeAllocating(float gamma)
    {
        var o = Shape();
        var w = TestData.Weights(o, seed: 1, gamma: gamma);
        long before = Engine.AllocatedBytes;

        Invoking(() => Engine.CreateLayer(o, w)).Should().Throw<ArgumentException>().WithParameterName("Gamma").WithMessage("Gamma[0] is*");
        Engine.AllocatedBytes.Should().Be(before);
    }

    [Theory]
    [InlineData("Wq", float.NaN)]
    [InlineData("Wo", float.PositiveInfinity)]
    [InlineData("Alpha", float.NegativeInfinity)]
    [InlineData("Bk", float.NaN)]
    public void Weights_RejectNonFiniteValues(string name, float value)
    {
        var o = Shape();
        var w = TestData.Weights(o, seed: 2, biases: true);
        var target = (float[])typeof(SomaLayerWeights).GetProperty(name)!.GetValue(w)!;
        target[target.Length / 2] = value;

        Invoking(() => Engine.CreateLayer(o, w)).Should().Throw<ArgumentException>().WithParameterName(name).WithMessage("*finite*");
    }

    [Fact]
    public void Weights_RejectWrongShapes_NamingTheExpectedShape()
    {
        var o = Shape();
        var good = TestData.Weights(o, seed: 3, biases: true);
        var shortWk = new SomaLayerWeights(good.Wq, good.Wk[..^1], good.Wv, good.Wo, good.Gamma, good.Alpha);
        var longBo = new SomaLayerWeights(good.Wq, good.Wk, good.Wv, good.Wo, good.Gamma, good.Alpha, bo: new float[13]);
        var gammaPerHead = new SomaLayerWeights(good.Wq, good.Wk, good.Wv, good.Wo, new float[4], good.Alpha);

        Invoking(() => Engine.CreateLayer(o, shortWk)).Should().Throw<ArgumentException>().WithParameterName("Wk").WithMessage("*[Hkv*dh=8, D=12]*");
        Invoking(() => Engine.CreateLayer(o, longBo)).Should().Throw<ArgumentException>().WithParameterName("Bo").WithMessage("*[D=12]*");
        Invoking(() => Engine.CreateLayer(o, gammaPerHead)).Should().Throw<ArgumentException>().WithParameterName("Gamma").WithMessage("*[Hkv=2]*");
    }

    [Fact]
    public void BadInputs_ThrowClearly_AndLeaveTheSessionExactlyAsItWas()
    {
        var o = Shape();
        var w = TestData.Weights(o, seed: 4, biases: true);
        int d = o.ModelDim;
        var prompt = TestData.Inputs(d, 5, seed: 5);
        var next = TestData.Inputs(d, 3, seed: 6);
        using var layer = Engine.CreateLayer(o, w);
        using var other = Engine.CreateLayer(o, w);
        using var session = layer.CreateSession();
        using var foreign = other.CreateSession();
        session.Prefill(prompt);
        var before = session.DownloadState();

        var nan = (float[])next.Clone();
        nan[7] = float.NaN;
        Invoking(() => session.Prefill(next.AsSpan(0, d + 1))).Should().Throw<ArgumentException>().WithParameterName("x").WithMessage("*n * D*");
        Invoking(() => session.Prefill(nan)).Should().Throw<ArgumentException>().WithParameterName("x").WithMessage("*x[7]*finite*");
        Invoking(() => session.Decode(next)).Should().Throw<ArgumentException>().WithParameterName("x").WithMessage("*[D=12]*");
        Invoking(() => session.Decode(nan.AsSpan(0, d))).Should().Throw<ArgumentException>().WithParameterName("x");
        Invoking(() => session.Prefill(next, new float[next.Length - 1])).Should().Throw<ArgumentException>().WithParameterName("y").WithMessage("*[n=3, D=12]*");
        Invoking(() => session.Decode(next.AsSpan(0, d), new float[d - 1])).Should().Throw<ArgumentException>().WithParameterName("y").WithMessage("*expected at least 12*");
        Invoking(() => layer.DecodeBatch(new[] { session, foreign }, next.AsSpan(0, 2 * d))).Should().Throw<ArgumentException>()
            .WithParameterName("sessions").WithMessage("*another layer*");
        Invoking(() => layer.DecodeBatch(new[] { session, session }, next.AsSpan(0, 2 * d))).Should().Throw<ArgumentException>()
            .WithParameterName("sessions").WithMessage("*twice*");
        Invoking(() => layer.DecodeBatch(new[] { session }, next.AsSpan(0, 2 * d))).Should().Throw<ArgumentException>()
            .WithParameterName("x").WithMessage("*[B=1, D=12]*");
        Invoking(() => layer.DecodeBatch(Array.Empty<SomaSession>(), next)).Should().Throw<ArgumentException>().WithParameterName("sessions");

        session.Position.Should().Be(5);
        StateShouldEqual(session.DownloadState(), before);
        var reference = new SomaReference(o, w);
        var state = reference.CreateState();
        reference.Run(state, prompt);
        Tolerance.ShouldMatch(session.Prefill(next), reference.Run(state, next), "y after rejected calls");
    }

    [Fact]
    public void SessionsFromDifferentPools_CannotShareABatch()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 7));
        using var a = layer.CreateSession();
        using var b = layer.CreateSession();

        Invoking(() => layer.DecodeBatch(new[] { a, b }, new float[2 * o.ModelDim])).Should().Throw<ArgumentException>()
            .WithParameterName("sessions").WithMessage("*one pool*");
    }

    [Fact]
    public void PoolExhaustion_ThrowsClearly_AndASlotReturnsOnDispose()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 8));
        using var pool = layer.CreatePool(2);
        var first = pool.OpenSession();
        using var second = pool.OpenSession();

        Invoking(() => pool.OpenSession()).Should().Throw<InvalidOperationException>().WithMessage("*All 2 session slots*");
        first.Dispose();
        pool.Available.Should().Be(1);
        using var third = pool.OpenSession();
        third.Position.Should().Be(0);
    }

    [Fact]
    public void DisposedObjects_ThrowObjectDisposed()
    {
        var o = Shape();
        var x = new float[o.ModelDim];
        var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 9));
        var session = layer.CreateSession();
        var survivor = layer.CreateSession();
        session.Dispose();

        Invoking(() => session.Decode(x)).Should().Throw<ObjectDisposedException>();
        Invoking(() => session.Reset()).Should().Throw<ObjectDisposedException>();
        layer.Dispose();
        Invoking(() => survivor.Decode(x)).Should().Throw<ObjectDisposedException>();
        Invoking(() => layer.CreateSession()).Should().Throw<ObjectDisposedException>();
        Invoking(() => layer.CreatePool(1)).Should().Throw<ObjectDisposedException>();
    }

    /// <summary>Every stage of a pass, failing in the first, second or third of three pipelined passes.</summary>
    public static TheoryData<string, int> StagesAndPasses()
    {
        var data = new TheoryData<string, int>();
        foreach (var stage in new[] { "upload", "rope", "qkv", "scan", "attention", "output", "download", "commit" })
        {
            for (int pass = 1; pass <= 3; pass++)
            {
                data.Add(stage, pass);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(StagesAndPasses))]
    public void AFaultMidCall_LeavesTheSessionAsItWas_EvenAfterEarlierChunksCommitted(string stage, int failingPass)
    {
        var o = Shape(); // maxChunkTokens 4: a 10-token prefill is three passes
        var w = TestData.Weights(o, seed: 10, biases: true);
        var prompt = TestData.Inputs(o.ModelDim, 5, seed: 11);
        var longer = TestData.Inputs(o.ModelDim, 10, seed: 12);
        using var layer = Engine.CreateLayer(o, w);
        using var session = layer.CreateSession();
        session.Prefill(prompt);
        var before = session.DownloadState();
        int passes = 0;
        layer.BeforeStage = s =>
        {
            if (s == stage && ++passes == failingPass)
            {
                throw new InvalidOperationException("injected fault");
            }
        };

        Invoking(() => session.Prefill(longer)).Should().Throw<InvalidOperationException>().WithMessage("injected fault");

        layer.BeforeStage = null;
        ShouldBeAsBefore(session, before, o, w, prompt, longer);
    }

    [Theory]
    [InlineData(1)] // a decode step: one ring row
    [InlineData(2)] // a one-pass prefill from position 5 of W = 3: ring rows 2 and 0, wrapping
    public void AFailedCommitLaunch_InAOnePassCall_LeavesTheSessionAsItWas(int rows)
    {
        var o = Shape();
        var w = TestData.Weights(o, seed: 14, biases: true);
        var prompt = TestData.Inputs(o.ModelDim, 5, seed: 15);
        var next = TestData.Inputs(o.ModelDim, rows, seed: 16);
        using var layer = Engine.CreateLayer(o, w);
        using var session = layer.CreateSession();
        session.Prefill(prompt);
        var before = session.DownloadState();
        layer.BeforeStage = s =>
        {
            if (s == "committed")
            {
                // A commit that fails part-way: it is enqueued (so it saved what it overwrote), and the rows it writes
                // and the field hold other values.
                var (ringK, ringV, field) = session.DownloadState();
                int channels = o.KvHeads * o.HeadDim;
                for (int t = 0; t < rows; t++)
                {
                    int row = (5 + t) % o.Window;
                    Array.Fill(ringK, 7f, row * channels, channels);
                    Array.Fill(ringV, -7f, row * channels, channels);
                }

                Array.Fill(field, 3.0);
                session.UploadState(ringK, ringV, field, session.Position);
                throw new InvalidOperationException("injected fault");
            }
        };

        Invoking(() => session.Prefill(next)).Should().Throw<InvalidOperationException>().WithMessage("injected fault");

        layer.BeforeStage = null;
        ShouldBeAsBefore(session, before, o, w, prompt, next);
    }

    [Fact]
    public void ConcurrentUseOfOneSession_Throws_AndCorruptsNothing()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 13));
        using var session = layer.CreateSession();
        Exception? inner = null;
        layer.BeforeStage = s =>
        {
            if (s == "qkv" && inner is null)
            {
                // While this session is mid-call, a second call on it must be refused.
                inner = Record.Exception(() => session.Reset());
            }
        };

        session.Decode(new float[o.ModelDim]);

        inner.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Contain("already in use");
        session.Position.Should().Be(1);
    }

    /// <summary>After a failed call: position 5, the state as before, and the next call as the reference continues.</summary>
    private static void ShouldBeAsBefore(
        SomaSession session, (float[] RingK, float[] RingV, double[] Field) before, SomaLayerOptions o, SomaLayerWeights w, float[] prompt, float[] next)
    {
        session.Position.Should().Be(5);
        StateShouldEqual(session.DownloadState(), before);
        var reference = new SomaReference(o, w);
        var state = reference.CreateState();
        reference.Run(state, prompt);
        Tolerance.ShouldMatch(session.Prefill(next), reference.Run(state, next), "y after the failed call");
    }

    private static void StateShouldEqual((float[] RingK, float[] RingV, double[] Field) actual, (float[] RingK, float[] RingV, double[] Field) expected)
    {
        actual.RingK.Should().Equal(expected.RingK);
        actual.RingV.Should().Equal(expected.RingV);
        actual.Field.Should().Equal(expected.Field);
    }

    private static Action Invoking(Action action) => action;
}
