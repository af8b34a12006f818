using Soma;
using Soma.Internal;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>
/// Plans from a device description are the plans of the live device: the engine's launch shapes and every plan a
/// layer caches equal what <see cref="LaunchPlan.For"/> builds from the accelerator's <see cref="DeviceDescription"/>;
/// on an H100 SXM or H200 the built-in description's limits are the live ones (ILGPU reports neither groups per SM nor the
/// per-group shared memory reserve); the live plans also follow ILGPU's occupancy estimate, which counts registers.
/// </summary>
public abstract class LiveDescriptionSuite
{
    protected LiveDescriptionSuite(AcceleratorFixture fixture) => Engine = fixture.Engine;

    protected SomaEngine Engine { get; }

    [Fact]
    public void LiveDescription_PlansEveryPassAsTheLayerDoes()
    {
        var device = DeviceDescription.Of(Engine.Accelerator, Engine.Device.PeakBandwidth);
        var tuning = Engine.Options.Tuning;
        new LaunchShapes(device, tuning, Engine.Occupancy).Should().BeEquivalentTo(Engine.Shapes);

        // A prefill of three passes (4, 4 and 1 rows) and a decode step: each plan the layer cached, from the description.
        var o = new SomaLayerOptions(21, 6, 2, 6, window: 5, includeCurrent: true, ropeTheta: 10000.0, maxChunkTokens: 4);
        using var layer = Engine.CreateLayer(o, TestData.Weights(o, seed: 511));
        using var session = layer.CreateSession();
        var passes = PassPlan.Split(new[] { 0 }, new[] { 9 }, new long[] { 0 }, o.MaxChunkTokens);
        passes.Add(PassPlan.Split(new[] { 0 }, new[] { 1 }, new long[] { 9 }, o.MaxChunkTokens).Single());
        session.Prefill(TestData.Inputs(o.ModelDim, 9, seed: 512));
        session.Decode(TestData.Inputs(o.ModelDim, 1, seed: 513));
        foreach (var pass in passes)
        {
            LaunchPlan.For(device, o, PlanKey.Of(pass, o.Window), tuning: tuning, occupancy: Engine.Occupancy).Should().BeEquivalentTo(layer.Runner.PlanOf(pass));
        }

        // On a Hopper GPU with a built-in description, that description's limits are the device's own.
        var builtIn = Engine.Device.Kind != SomaAcceleratorKind.Cuda ? null
            : device.Name.Contains("H200", StringComparison.Ordinal) ? DeviceDescription.H200
            : device.Name.Contains("H100", StringComparison.Ordinal) && device.Name.Contains("HBM3", StringComparison.Ordinal) ? DeviceDescription.H100Sxm
            : null;
        if (builtIn is not null)
        {
            builtIn.Should().BeEquivalentTo(
                device,
                options => options.ComparingByMembers<DeviceDescription>().Excluding(d => d.Name).Excluding(d => d.MemoryBandwidth)
                    .Excluding(d => d.MaxGroupsPerMultiprocessor).Excluding(d => d.SharedMemoryReservedPerGroup));
        }
    }
}
