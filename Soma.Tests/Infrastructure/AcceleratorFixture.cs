using Soma;

namespace Soma.Tests.Infrastructure;

/// <summary>
/// One engine shared by the suites bound to one accelerator (see AcceleratorSuites.cs). The engine opens on first use,
/// so a class whose tests are all skipped (no such device) opens nothing; opening checks that the engine really runs on
/// <see cref="Kind"/>, so a CUDA-named test can never run on the CPU. The CPU accelerator uses the fast explicit-group
/// device shape (2 threads a warp, 1 warp, 1 MP).
/// </summary>
public abstract class AcceleratorFixture : IDisposable
{
    /// <summary>
    /// The environment variable that names the accelerators whose suites must run (comma separated: cpu, cuda,
    /// opencl). A named accelerator's suites fail instead of skipping when its device is missing; see
    /// <see cref="AcceleratorAvailability"/>.
    /// </summary>
    public const string Variable = "SOMA_TEST_ACCELERATOR";

    private readonly Lazy<SomaEngine> engine;

    /// <summary>A fixture for the suites bound to <paramref name="kind"/>.</summary>
    protected AcceleratorFixture(SomaAcceleratorKind kind)
    {
        Kind = kind;
        engine = new Lazy<SomaEngine>(Open, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The accelerator these suites are bound to.</summary>
    public SomaAcceleratorKind Kind { get; }

    /// <summary>The shared engine, opened on first use; throws (every time) when it cannot open on <see cref="Kind"/>.</summary>
    public SomaEngine Engine => engine.Value;

    /// <summary>Throws unless <paramref name="device"/> is of the kind <paramref name="expected"/>.</summary>
    public static void EnsureKind(SomaAcceleratorKind expected, SomaDeviceInfo device)
    {
        if (device.Kind != expected)
        {
            throw new InvalidOperationException(
                $"The {expected} suites got an engine on {device}; they must run on {expected} or not at all.");
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (engine.IsValueCreated)
        {
            engine.Value.Dispose();
        }
    }

    private SomaEngine Open()
    {
        // An unknown value in the variable fails every bound test with a message that names it.
        AcceleratorAvailability.Required(Environment.GetEnvironmentVariable(Variable));
        var opened = SomaEngine.Create(new SomaEngineOptions(Kind));
        try
        {
            EnsureKind(Kind, opened.Device);
            return opened;
        }
        catch
        {
            opened.Dispose();
            throw;
        }
    }
}
