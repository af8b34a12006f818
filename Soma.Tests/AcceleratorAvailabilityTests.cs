using Soma;
using Soma.Tests.Infrastructure;

namespace Soma.Tests;

/// <summary>When the suites bound to an accelerator run, skip or fail (AcceleratorAvailability, AcceleratorFixture).</summary>
public sealed class AcceleratorAvailabilityTests
{
    private static readonly SomaDeviceInfo Cpu = Device(SomaAcceleratorKind.Cpu, "CPU");
    private static readonly SomaDeviceInfo CudaGpu = Device(SomaAcceleratorKind.Cuda, "GPU");
    private static readonly SomaDeviceInfo OpenClGpu = Device(SomaAcceleratorKind.OpenCL, "GPU");
    private static readonly SomaDeviceInfo OpenClCpu = Device(SomaAcceleratorKind.OpenCL, "CPU");

    [Fact]
    public void Cpu_AlwaysRuns_WithoutListingDevices()
    {
        AcceleratorAvailability.SkipReason(SomaAcceleratorKind.Cpu, null, () => throw new InvalidOperationException("listed"))
            .Should().BeNull();
    }

    [Theory]
    [InlineData(SomaAcceleratorKind.Cuda, null)]
    [InlineData(SomaAcceleratorKind.Cuda, "cpu")]
    [InlineData(SomaAcceleratorKind.OpenCL, "auto")]
    [InlineData(SomaAcceleratorKind.OpenCL, "cuda")]
    public void Gpu_NotPresent_NotRequired_SkipsWithReasonNamingItAndTheVariable(SomaAcceleratorKind kind, string? variable)
    {
        var reason = AcceleratorAvailability.SkipReason(kind, variable, () => [Cpu]);

        var name = kind == SomaAcceleratorKind.Cuda ? "CUDA" : "OpenCL";
        reason.Should().Contain($"No {name} device").And.Contain($"SOMA_TEST_ACCELERATOR={name.ToLowerInvariant()}");
    }

    [Fact]
    public void Gpu_Present_Runs()
    {
        AcceleratorAvailability.SkipReason(SomaAcceleratorKind.Cuda, null, () => [Cpu, CudaGpu]).Should().BeNull();
        AcceleratorAvailability.SkipReason(SomaAcceleratorKind.OpenCL, null, () => [Cpu, OpenClGpu]).Should().BeNull();
    }

    [Fact]
    public void OpenClCpuRuntime_Skips_UnlessRequired()
    {
        AcceleratorAvailability.SkipReason(SomaAcceleratorKind.OpenCL, null, () => [Cpu, OpenClCpu])
            .Should().Contain("CPU runtime");
        AcceleratorAvailability.SkipReason(SomaAcceleratorKind.OpenCL, "opencl", () => [Cpu, OpenClCpu]).Should().BeNull();
    }

    [Fact]
    public void UnusableDevice_SkipsWithTheDevicesNote()
    {
        var unusable = CudaGpu with { Usable = false, Note = "too old" };

        AcceleratorAvailability.SkipReason(SomaAcceleratorKind.Cuda, null, () => [Cpu, unusable]).Should().Contain("too old");
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData(" CUDA ")]
    [InlineData("opencl,cuda")]
    public void Required_Missing_RunsSoThatTheFixtureFails(string variable)
    {
        AcceleratorAvailability.SkipReason(SomaAcceleratorKind.Cuda, variable, () => [Cpu]).Should().BeNull();
        AcceleratorAvailability.Required(variable).Should().Contain([SomaAcceleratorKind.Cpu, SomaAcceleratorKind.Cuda]);
    }

    [Fact]
    public void Required_UnknownName_ThrowsNamingTheVariable()
    {
        var act = () => AcceleratorAvailability.Required("cpu,tpu");

        act.Should().Throw<ArgumentException>().WithMessage("*SOMA_TEST_ACCELERATOR='cpu,tpu'*tpu*");
    }

    [Fact]
    public void EnsureKind_OtherKind_Throws()
    {
        var act = () => AcceleratorFixture.EnsureKind(SomaAcceleratorKind.Cuda, Cpu);

        act.Should().Throw<InvalidOperationException>().WithMessage("*Cuda suites got an engine on cpu:0*");
        AcceleratorFixture.EnsureKind(SomaAcceleratorKind.Cuda, CudaGpu);
    }

    [Fact]
    public void CudaFixture_NeverGivesAnEngineOnAnotherAccelerator()
    {
        using var fixture = new CudaFixture();
        SomaEngine? engine = null;
        try
        {
            engine = fixture.Engine;
        }
        catch (InvalidOperationException)
        {
            // No CUDA device here: the fixture refuses rather than falling back to the CPU.
        }

        engine?.Device.Kind.Should().Be(SomaAcceleratorKind.Cuda);
        (engine is not null).Should().Be(SomaEngine.ListDevices().Any(d => d.Kind == SomaAcceleratorKind.Cuda && d.Usable));
    }

    private static SomaDeviceInfo Device(SomaAcceleratorKind kind, string processor) =>
        new(kind, 0, $"{kind} test device", 1L << 30, 32, 1024, 8, Usable: true, Note: "", ProcessorType: processor);
}
