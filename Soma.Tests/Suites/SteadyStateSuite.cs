using ILGPU.Runtime;
using Soma;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// No host allocation in steady state: after warm-up, <see cref="SomaSession.Decode(ReadOnlySpan{float}, Span{float})"/>
/// and <see cref="SomaLayer.DecodeBatch(IReadOnlyList{SomaSession}, ReadOnlySpan{float}, Span{float})"/> into
/// caller-owned spans, a decode on device views and a model decode step allocate nothing in Soma's code. On CUDA a step allocates 0 managed bytes outright. The CPU (and
/// OpenCL) backends of ILGPU allocate per launch and copy themselves (the CPU accelerator's task object of each
/// launch is as large as the kernel's parameters), so there a step is compared with its baseline: the same ILGPU work
/// issued directly (<c>CallRunner.ReplayLastPass</c>: the step's upload block, the plan's launches, the download,
/// the commit launch (which saves what it overwrites) and one wait, without the call machinery around them). Measured with
/// <see cref="GC.GetAllocatedBytesForCurrentThread"/>; the least of a few rounds of each, so that a rare allocation
/// inside ILGPU cannot fail the test while one byte a step of Soma's own always does.
/// </summary>
public abstract class SteadyStateSuite
{
    private const int WarmUp = 40;
    private const int Steps = 16;
    private const int Rounds = 3;

    protected SteadyStateSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    private static SomaLayerOptions Shape() => new(12, 4, 2, 6, window: 4, ropeTheta: 10000.0, maxChunkTokens: 5);

    [Fact]
    public void WarmDecode_IntoCallerSpans_AllocatesNothingOfSomasOwn()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 460, biases: true));
        using var session = layer.CreateSession();
        var x = TestData.Inputs(o.ModelDim, 1, seed: 461);
        var y = new float[o.ModelDim];

        AllocatesOnlyWhatIlgpuDoes(() => session.Decode(x, y), () => layer.Runner.ReplayLastPass(session));
    }

    [Fact]
    public void WarmDecodeBatch_IntoCallerSpans_AllocatesNothingOfSomasOwn()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 462));
        using var pool = layer.CreatePool(3);
        var batch = new[] { pool.OpenSession(), pool.OpenSession(), pool.OpenSession() };
        var x = TestData.Inputs(o.ModelDim, 3, seed: 463);
        var y = new float[3 * o.ModelDim];

        AllocatesOnlyWhatIlgpuDoes(() => layer.DecodeBatch(batch, x, y), () => layer.Runner.ReplayLastPass(batch[0]));
    }

    [Fact]
    public void WarmDecode_OnDeviceViews_AllocatesNothingOfSomasOwn()
    {
        var o = Shape();
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 464));
        using var session = layer.CreateSession();
        using var x = Engine.Accelerator.Allocate1D(TestData.Inputs(o.ModelDim, 1, seed: 465));
        using var y = Engine.Accelerator.Allocate1D<float>(o.ModelDim);

        AllocatesOnlyWhatIlgpuDoes(() => session.Decode(x.View, y.View), () => layer.Runner.ReplayLastPass(session, hostX: false, hostY: false));
    }

    [Fact]
    public void WarmModelDecode_IntoCallerSpans_AllocatesNothingOfSomasOwn()
    {
        var o = Shape();
        using var model = Engine.CreateModel(o, Enumerable.Range(0, 2).Select(l => TestData.Weights(o, seed: 466 + l)).ToArray());
        using var session = model.CreateSession();
        var x = TestData.Inputs(o.ModelDim, 1, seed: 469);
        var y = new float[o.ModelDim];
        var stream = model.Layers[0].Runner.Streams.Compute;

        // One stream for every layer; x up with the first layer's block, y down from the last, one wait.
        AllocatesOnlyWhatIlgpuDoes(
            () => session.Decode(x, y),
            () =>
            {
                for (int l = 0; l < 2; l++)
                {
                    model.Layers[l].Runner.ReplayLastPass(session.Sessions[l], stream, hostX: l == 0, hostY: l == 1, wait: l == 1);
                }
            });
    }

    /// <summary>
    /// Warms <paramref name="step"/> and <paramref name="replay"/> (its ILGPU work alone) up, past the ring's filling so
    /// the plan no longer changes, then measures both in alternating rounds.
    /// </summary>
    private void AllocatesOnlyWhatIlgpuDoes(Action step, Action replay)
    {
        for (int i = 0; i < WarmUp; i++)
        {
            step();
            replay();
        }

        long calls = long.MaxValue, baseline = long.MaxValue;
        for (int round = 0; round < Rounds; round++)
        {
            calls = Math.Min(calls, Allocated(step));
            baseline = Math.Min(baseline, Allocated(replay));
        }

        if (Engine.Device.Kind == SomaAcceleratorKind.Cuda)
        {
            calls.Should().Be(0, $"{Steps} warm steps on CUDA allocate no managed memory at all");
            return;
        }

        calls.Should().Be(baseline, $"Soma adds nothing to what ILGPU itself allocates for the same launches and copies over {Steps} steps");
        if (Engine.Device.Kind == SomaAcceleratorKind.Cpu)
        {
            baseline.Should().BePositive("the CPU accelerator allocates a task object per launch, so the comparison is not vacuous");
        }
    }

    /// <summary>Managed bytes this thread allocates over <see cref="Steps"/> runs of <paramref name="step"/>.</summary>
    private static long Allocated(Action step)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Steps; i++)
        {
            step();
        }

        return GC.GetAllocatedBytesForCurrentThread() - before;
    }
}
