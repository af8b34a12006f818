using Soma;

namespace Soma.Tests.Infrastructure;

/// <summary>The engine of the suites bound to the CPU accelerator (namespace Soma.Tests.Cpu).</summary>
public sealed class CpuFixture() : AcceleratorFixture(SomaAcceleratorKind.Cpu);

/// <summary>The engine of the suites bound to CUDA (namespace Soma.Tests.Cuda).</summary>
public sealed class CudaFixture() : AcceleratorFixture(SomaAcceleratorKind.Cuda);

/// <summary>The engine of the suites bound to OpenCL (namespace Soma.Tests.OpenCL).</summary>
public sealed class OpenClFixture() : AcceleratorFixture(SomaAcceleratorKind.OpenCL);

/// <summary>The CPU-bound suites share one engine and run one after another.</summary>
[CollectionDefinition(Name)]
[BoundAccelerator(SomaAcceleratorKind.Cpu)]
public sealed class CpuCollection : ICollectionFixture<CpuFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "accelerator: cpu";
}

/// <summary>The CUDA-bound suites share one engine and run one after another; skipped without a CUDA device.</summary>
[CollectionDefinition(Name)]
[BoundAccelerator(SomaAcceleratorKind.Cuda)]
public sealed class CudaCollection : ICollectionFixture<CudaFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "accelerator: cuda";
}

/// <summary>The OpenCL-bound suites share one engine and run one after another; skipped without an OpenCL GPU.</summary>
[CollectionDefinition(Name)]
[BoundAccelerator(SomaAcceleratorKind.OpenCL)]
public sealed class OpenClCollection : ICollectionFixture<OpenClFixture>
{
    /// <summary>The collection's name.</summary>
    public const string Name = "accelerator: opencl";
}

/// <summary>
/// Marks a collection definition whose tests run on one accelerator: <see cref="AcceleratorTestFramework"/> skips
/// them, with the reason, when <see cref="AcceleratorAvailability"/> says that accelerator is absent.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class BoundAcceleratorAttribute(SomaAcceleratorKind kind) : Attribute
{
    /// <summary>The accelerator the collection's tests run on.</summary>
    public SomaAcceleratorKind Kind { get; } = kind;
}
