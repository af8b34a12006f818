using Soma;

namespace Soma.Bench.Bdn;

/// <summary>
/// One accelerator and layer shape a suite runs on: the small shape on the CPU accelerator, the Qwen2.5-7B
/// attention shape on CUDA. Only accelerators present on this machine are offered as parameters.
/// </summary>
public sealed class BenchCase
{
    private BenchCase(SomaAcceleratorKind kind, string shape)
    {
        Kind = kind;
        Shape = shape;
    }

    internal SomaAcceleratorKind Kind { get; }

    internal string Shape { get; }

    internal SomaLayerOptions Options => BenchShapes.ByName(Shape);

    /// <summary>The environment variable that limits the suites to some accelerators, e.g. "cuda" or "cpu,cuda".</summary>
    public const string Variable = "SOMA_BDN_ACCELERATORS";

    /// <summary>The cases for the accelerators present (and named in <see cref="Variable"/>, when it is set).</summary>
    public static IEnumerable<BenchCase> Present()
    {
        var devices = SomaEngine.ListDevices();
        var wanted = (Environment.GetEnvironmentVariable(Variable) ?? "cpu,cuda")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(SomaEngineOptions.ParseKind)
            .ToHashSet();
        if (wanted.Contains(SomaAcceleratorKind.Cpu))
        {
            yield return new BenchCase(SomaAcceleratorKind.Cpu, "small");
        }

        if (wanted.Contains(SomaAcceleratorKind.Cuda) && devices.Any(d => d.Kind == SomaAcceleratorKind.Cuda && d.Usable))
        {
            yield return new BenchCase(SomaAcceleratorKind.Cuda, "qwen7b");
        }
    }

    internal SomaEngine CreateEngine() => SomaEngine.Create(new SomaEngineOptions(Kind));

    /// <inheritdoc/>
    public override string ToString() => $"{Kind.ToString().ToLowerInvariant()}/{Shape}";
}
