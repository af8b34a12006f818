using Microsoft.Extensions.Logging;
using Soma;
using Soma.Internal;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// What an engine with a logger factory logs: the accelerator and why, kernel compile time, layers, pools, failures
/// and rollbacks; and that a decode step logs nothing at Information or above.
/// </summary>
public abstract class LoggingSuite
{
    protected LoggingSuite(AcceleratorFixture fixture) => Kind = fixture.Kind;

    protected SomaAcceleratorKind Kind { get; }

    [Fact]
    public void Engine_LogsItsAccelerator_Kernels_Layers_FailuresAndRollbacks_AndNothingPerDecodeAtInformation()
    {
        var log = new CapturingLoggerFactory();
        var o = new SomaLayerOptions(12, 4, 2, 4, window: 3, maxChunkTokens: 4);
        var w = TestData.Weights(o, seed: 301);
        string kind = Kind.ToString().ToLowerInvariant();
        using (var engine = SomaEngine.Create(new SomaEngineOptions(Kind) { LoggerFactory = log }))
        {
            log.Entries.Should().Contain(e =>
                e.Category == "Soma.SomaEngine" && e.Level == LogLevel.Information && e.Message.Contains($"on {kind} device 0")
                && e.Message.Contains($"asked for ({kind}, device index 0)"));
            log.Entries.Should().Contain(e => e.Level == LogLevel.Information && e.Message.StartsWith($"Compiled and loaded {Soma.Internal.KernelSet.LoadedAtStart} kernels in "));

            using var layer = engine.CreateLayer(o, w);
            using var session = layer.CreateSession();
            log.Entries.Should().Contain(e => e.Category == "Soma.SomaLayer" && e.Level == LogLevel.Information && e.Message.Contains("D=12 H=4 Hkv=2 dh=4 window=3 RoPE theta=10000"));
            log.Entries.Should().Contain(e => e.Level == LogLevel.Debug && e.Message.StartsWith($"Session pool of 1 sessions: {layer.StateBytes} bytes"));
            session.Prefill(TestData.Inputs(o.ModelDim, 3, seed: 302));

            log.Clear();
            session.Decode(TestData.Inputs(o.ModelDim, 1, seed: 303));
            log.Entries.Should().NotContain(e => e.Level >= LogLevel.Information, "a decode step logs at Trace at most");
            log.Entries.Should().Contain(e => e.Level == LogLevel.Trace && e.Message.StartsWith("Pass of 1 tokens for 1 sessions"));

            layer.BeforeStage = s => throw new InvalidOperationException("injected fault");
            Action failing = () => session.Decode(TestData.Inputs(o.ModelDim, 1, seed: 304));
            failing.Should().Throw<InvalidOperationException>();
            log.Entries.Should().Contain(e =>
                e.Level == LogLevel.Warning && e.Message.Contains("no session changed") && e.Exception!.Message == "injected fault");

            int passes = 0;
            layer.BeforeStage = s =>
            {
                if (s == "attention" && ++passes == 2)
                {
                    throw new InvalidOperationException("injected fault");
                }
            };
            Action failingLong = () => session.Prefill(TestData.Inputs(o.ModelDim, 10, seed: 305));
            failingLong.Should().Throw<InvalidOperationException>();
            layer.BeforeStage = null;
            log.Entries.Should().Contain(e => e.Level == LogLevel.Debug && e.Message.Contains("runs as 3 pipelined passes"));
            log.Entries.Should().Contain(e => e.Level == LogLevel.Warning && e.Message.Contains("rolled back 1 session slot(s)") && e.Exception != null);
            session.Position.Should().Be(4);

            using var model = engine.CreateModel(o, new[] { w, w });
            using var sequence = model.CreateSession();
            model.Layers[1].BeforeStage = s => throw new InvalidOperationException("injected fault");
            Action failingModel = () => sequence.Prefill(TestData.Inputs(o.ModelDim, 6, seed: 306));
            failingModel.Should().Throw<InvalidOperationException>();
            log.Entries.Should().Contain(e => e.Level == LogLevel.Information && e.Message == "Model of 2 layers created.");
            log.Entries.Should().Contain(
                e => e.Level == LogLevel.Warning && e.Message.Contains("rolled back 1 session slot(s)"), "layer 0 committed; layer 1 failed before its commit");
        }

        log.Entries.Should().Contain(e => e.Level == LogLevel.Debug && e.Message.StartsWith("Soma engine disposed"));
    }

    [Fact]
    public void NoSuchDevice_LogsAnError_BeforeItThrows()
    {
        var log = new CapturingLoggerFactory();

        Action create = () => SomaEngine.Create(new SomaEngineOptions(Kind, deviceIndex: 99) { LoggerFactory = log });

        create.Should().Throw<InvalidOperationException>().WithMessage("No usable*index 99*");
        log.Entries.Should().ContainSingle(e => e.Level >= LogLevel.Warning).Which.Should()
            .Match<LogEntry>(e => e.Level == LogLevel.Error && e.Message.Contains("index 99"));
    }

    [Fact]
    public void EngineOptions_DefaultToNoLoggingAndCheckedInputs_AndRejectANullFactory()
    {
        var options = new SomaEngineOptions();

        options.LoggerFactory.Should().BeSameAs(Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        options.CheckFiniteInputs.Should().BeTrue();
        Action nullFactory = () => _ = new SomaEngineOptions { LoggerFactory = null! };
        nullFactory.Should().Throw<ArgumentNullException>().WithParameterName("LoggerFactory");
    }
}
