using BenchmarkDotNet.Attributes;
using Soma;

namespace Soma.Bench.Bdn;

/// <summary>
/// What every Soma suite shares: the accelerator/shape parameter over the accelerators present, the engine it
/// opens in setup, and its disposal, which checks that the suite gave back every device buffer it took.
/// </summary>
public abstract class AcceleratorSuite
{
    /// <summary>Accelerator and shape.</summary>
    [ParamsSource(nameof(Cases))]
    public BenchCase Case { get; set; } = null!;

    /// <summary>The engine of <see cref="Case"/>, opened by <see cref="OpenEngine"/>.</summary>
    internal SomaEngine Engine { get; private set; } = null!;

    /// <summary>The accelerators present (see <see cref="BenchCase.Variable"/>).</summary>
    public static IEnumerable<BenchCase> Cases() => BenchCase.Present();

    /// <summary>Disposes what the suite made (<see cref="DisposeOwned"/>), then the engine.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        if (Engine is null)
        {
            return;
        }

        DisposeOwned();
        if (Engine.AllocatedBuffers != 0)
        {
            // Not an exception: the measurements stand, but the suite must be fixed.
            Console.Error.WriteLine(
                $"// Soma bdn: {GetType().Name} [{Case}] left {Engine.AllocatedBuffers} device buffers ({Engine.AllocatedBytes} bytes) after cleanup.");
        }

        Engine.Dispose();
        Engine = null!;
    }

    /// <summary>Disposes the layers, sessions and buffers the suite made from <see cref="Engine"/>.</summary>
    protected abstract void DisposeOwned();

    /// <summary>Opens the engine for <see cref="Case"/> and returns its layer shape.</summary>
    internal SomaLayerOptions OpenEngine()
    {
        Engine = Case.CreateEngine();
        return Case.Options;
    }
}
