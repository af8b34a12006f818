using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Soma;

/// <summary>
/// How a <see cref="SomaEngine"/> picks its accelerator. The CPU device shape matters: ILGPU's CPU accelerator runs
/// each simulated GPU thread as an OS thread, so small explicit groups (the default: 2 threads a warp, 1 warp a
/// group, 1 multiprocessor) run far faster than the default CPU device.
/// </summary>
/// <remarks>
/// Two init-only settings apply to everything the engine creates: <see cref="LoggerFactory"/> (where Soma logs; by
/// default nowhere) and <see cref="CheckFiniteInputs"/> (whether every input row is scanned for NaN and infinity;
/// on by default). Example: <c>new SomaEngineOptions(SomaAcceleratorKind.Cpu) { LoggerFactory = factory }</c>.
/// </remarks>
public sealed record SomaEngineOptions
{
    private readonly ILoggerFactory loggerFactory = NullLoggerFactory.Instance;

    /// <summary>Creates and validates engine options.</summary>
    /// <param name="accelerator">Which accelerator to open.</param>
    /// <param name="deviceIndex">Which device of that kind, counted from 0 in <see cref="SomaEngine.ListDevices"/> order.</param>
    /// <param name="cpuThreadsPerWarp">CPU accelerator: simulated threads per warp, a power of two in [2, 64].</param>
    /// <param name="cpuWarpsPerGroup">CPU accelerator: warps per group, in [1, 32].</param>
    /// <param name="cpuMultiprocessors">CPU accelerator: simulated multiprocessors, in [1, 256].</param>
    public SomaEngineOptions(
        SomaAcceleratorKind accelerator = SomaAcceleratorKind.Auto,
        int deviceIndex = 0,
        int cpuThreadsPerWarp = 2,
        int cpuWarpsPerGroup = 1,
        int cpuMultiprocessors = 1)
    {
        if (!Enum.IsDefined(accelerator))
        {
            throw new ArgumentOutOfRangeException(nameof(accelerator), accelerator, "Unknown accelerator kind.");
        }

        if (deviceIndex < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(deviceIndex), deviceIndex, "deviceIndex must be >= 0.");
        }

        if (cpuThreadsPerWarp < 2 || cpuThreadsPerWarp > 64 || (cpuThreadsPerWarp & (cpuThreadsPerWarp - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(
                nameof(cpuThreadsPerWarp), cpuThreadsPerWarp, "cpuThreadsPerWarp must be a power of two in [2, 64].");
        }

        if (cpuWarpsPerGroup < 1 || cpuWarpsPerGroup > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(cpuWarpsPerGroup), cpuWarpsPerGroup, "cpuWarpsPerGroup must lie in [1, 32].");
        }

        if (cpuMultiprocessors < 1 || cpuMultiprocessors > 256)
        {
            throw new ArgumentOutOfRangeException(
                nameof(cpuMultiprocessors), cpuMultiprocessors, "cpuMultiprocessors must lie in [1, 256].");
        }

        Accelerator = accelerator;
        DeviceIndex = deviceIndex;
        CpuThreadsPerWarp = cpuThreadsPerWarp;
        CpuWarpsPerGroup = cpuWarpsPerGroup;
        CpuMultiprocessors = cpuMultiprocessors;
    }

    /// <summary>Which accelerator to open.</summary>
    public SomaAcceleratorKind Accelerator { get; }

    /// <summary>
    /// Where the engine and everything it creates log (categories <c>Soma.SomaEngine</c> and <c>Soma.SomaLayer</c>):
    /// the accelerator chosen and why, kernel compile time, layers, models, pool sizes, workspace growth, snapshot
    /// loads, failed calls and their rollbacks. Per-pass plans (projection tiling, attention splits) log at Trace;
    /// nothing that runs per decode step logs above Trace. Default: <see cref="NullLoggerFactory.Instance"/> (no
    /// logging; each disabled log call costs one level check). Must not be null.
    /// </summary>
    public ILoggerFactory LoggerFactory
    {
        get => loggerFactory;
        init => loggerFactory = value ?? throw new ArgumentNullException(nameof(LoggerFactory));
    }

    /// <summary>
    /// True (the default): every input x of a prefill or decode call (session, layer batch, model) is scanned on the
    /// host and a NaN or infinity throws <see cref="ArgumentException"/> naming the element, before any device work.
    /// False: inputs go to the device unscanned, saving one pass over x per call. A session fed a non-finite input
    /// then carries it: that token's own output is finite but wrong (a NaN softmax sum counts as an empty window), its
    /// ring holds NaN for the next W tokens, and its field holds NaN until <see cref="SomaSession.Reset"/> (or a
    /// snapshot load), so every later output of it is NaN; other sessions, also those batched with it, are
    /// unaffected. See docs/semantics.md, "Non-finite inputs". Weights are checked for finiteness either way.
    /// </summary>
    /// <remarks>
    /// An engine option rather than a layer option: it is a policy about trusting the caller's data (one choice per
    /// process or service), not part of a layer's math, so <see cref="SomaLayerOptions"/> stays a pure description of
    /// the layer.
    /// </remarks>
    public bool CheckFiniteInputs { get; init; } = true;

    /// <summary>
    /// True (the default): a call of several passes (a prompt longer than <see cref="SomaLayerOptions.MaxChunkTokens"/>)
    /// uploads the next pass's rows and downloads the previous pass's output on their own streams while the current
    /// pass computes. False: every copy runs on the compute stream, one after another (benchmarks compare the two).
    /// Fixed for the engine's lifetime, so no running call sees it change.
    /// </summary>
    public bool OverlapCopies { get; init; } = true;

    /// <summary>
    /// Overrides of the launch shapes chosen for the accelerator (tests force the GPU code paths on the CPU with it);
    /// null: the accelerator's defaults. Fixed for the engine's lifetime.
    /// </summary>
    internal Internal.LaunchTuning? Tuning { get; init; }

    /// <summary>Which device of that kind.</summary>
    public int DeviceIndex { get; }

    /// <summary>CPU accelerator: simulated threads per warp.</summary>
    public int CpuThreadsPerWarp { get; }

    /// <summary>CPU accelerator: warps per group.</summary>
    public int CpuWarpsPerGroup { get; }

    /// <summary>CPU accelerator: simulated multiprocessors.</summary>
    public int CpuMultiprocessors { get; }

    /// <summary>
    /// Parses an accelerator name: auto, cpu, cuda or opencl (case-insensitive). Throws
    /// <see cref="ArgumentException"/> naming the accepted values otherwise.
    /// </summary>
    public static SomaAcceleratorKind ParseKind(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant() switch
        {
            "auto" or "" => SomaAcceleratorKind.Auto,
            "cpu" => SomaAcceleratorKind.Cpu,
            "cuda" => SomaAcceleratorKind.Cuda,
            "opencl" or "cl" => SomaAcceleratorKind.OpenCL,
            _ => throw new ArgumentException($"Unknown accelerator '{name}'; expected auto, cpu, cuda or opencl.", nameof(name)),
        };
    }
}
