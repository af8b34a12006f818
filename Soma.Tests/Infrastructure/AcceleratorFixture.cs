using Soma;

namespace Soma.Tests.Infrastructure;

/// <summary>
/// One engine shared by the accelerator suites. The accelerator comes from SOMA_TEST_ACCELERATOR (cpu, the default,
/// or cuda / opencl); the CPU accelerator uses the fast explicit-group device shape (2 threads a warp, 1 warp, 1 MP).
/// </summary>
public sealed class AcceleratorFixture : IDisposable
{
    /// <summary>The environment variable that names the accelerator the shared suites run on.</summary>
    public const string Variable = "SOMA_TEST_ACCELERATOR";

    public AcceleratorFixture()
    {
        var name = Environment.GetEnvironmentVariable(Variable);
        Kind = string.IsNullOrWhiteSpace(name) ? SomaAcceleratorKind.Cpu : SomaEngineOptions.ParseKind(name);
        Engine = SomaEngine.Create(new SomaEngineOptions(Kind));
    }

    public SomaAcceleratorKind Kind { get; }

    public SomaEngine Engine { get; }

    public void Dispose() => Engine.Dispose();
}

/// <summary>The suites that share one engine run in this collection, one after another.</summary>
[CollectionDefinition(Name)]
public sealed class AcceleratorCollection : ICollectionFixture<AcceleratorFixture>
{
    public const string Name = "accelerator";
}
