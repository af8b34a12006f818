using BenchmarkDotNet.Attributes;
using Soma;

namespace Soma.Bench.Bdn;

/// <summary>
/// What every Soma suite shares: the accelerator/shape parameter over the accelerators present, the engine it
/// opens in setup, and its disposal (which disposes the layers and sessions made from it).
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

    [GlobalCleanup]
    public virtual void Cleanup() => Engine?.Dispose();

    /// <summary>Opens the engine for <see cref="Case"/> and returns its layer shape.</summary>
    internal SomaLayerOptions OpenEngine()
    {
        Engine = Case.CreateEngine();
        return Case.Options;
    }
}
