namespace Soma.Internal;

/// <summary>
/// The constants of the performance model (<see cref="PerformanceModel"/>), in this one place: what fraction of a
/// device's peak bandwidth and FLOPs a launch reaches, and what a launch, a copy and a host wait cost besides.
/// Validated when constructed.
/// </summary>
/// <remarks>
/// <see cref="Assumed"/> holds uncalibrated assumptions, not measurements: chosen from NVIDIA's public specs and
/// common experience with CUDA, before any GPU run of this model. No GPU run has calibrated them yet
/// (<see cref="CalibratedBy"/> says so); when one does, it fits these numbers to the per-kernel and per-step times it
/// measures (tools/gpu-check.sh), and <see cref="CalibratedBy"/> names that run (commit, device, file).
/// </remarks>
internal sealed record PerformanceConstants
{
    /// <summary>Constants of the model; every fraction in (0, 1], every cost a finite number of seconds &gt;= 0.</summary>
    /// <param name="bandwidthEfficiency">Fraction of the peak device-memory bandwidth a launch's bytes move at.</param>
    /// <param name="computeEfficiency">Fraction of the peak fp32 FLOPs a launch's FLOPs run at.</param>
    /// <param name="launchSeconds">Cost of one kernel launch besides its work (host enqueue and launch gap, not hidden).</param>
    /// <param name="hostWaitSeconds">Cost of one host wait (a stream synchronization's round trip) besides the work waited for.</param>
    /// <param name="copySeconds">Fixed cost of one copy (host to device, device to host, or device to device).</param>
    /// <param name="hostLinkEfficiency">Fraction of the host link's one-way bandwidth the input and output rows move at.</param>
    /// <param name="calibratedBy">The GPU run these constants were fitted to, or a sentence saying there was none.</param>
    public PerformanceConstants(
        double bandwidthEfficiency,
        double computeEfficiency,
        double launchSeconds,
        double hostWaitSeconds,
        double copySeconds,
        double hostLinkEfficiency,
        string calibratedBy)
    {
        BandwidthEfficiency = Fraction(bandwidthEfficiency, nameof(bandwidthEfficiency));
        ComputeEfficiency = Fraction(computeEfficiency, nameof(computeEfficiency));
        LaunchSeconds = Cost(launchSeconds, nameof(launchSeconds));
        HostWaitSeconds = Cost(hostWaitSeconds, nameof(hostWaitSeconds));
        CopySeconds = Cost(copySeconds, nameof(copySeconds));
        HostLinkEfficiency = Fraction(hostLinkEfficiency, nameof(hostLinkEfficiency));
        CalibratedBy = string.IsNullOrWhiteSpace(calibratedBy)
            ? throw new ArgumentException("Say which GPU run calibrated the constants, or that none did.", nameof(calibratedBy))
            : calibratedBy;
    }

    /// <summary>
    /// The model's constants until a GPU run calibrates them: uncalibrated assumptions. Bandwidth 0.8 of peak (what
    /// issue 13 asks of the decode kernels; streaming copies on Hopper reach somewhat more); compute 0.7 of peak
    /// fp32; 3 µs a launch, 5 µs a host wait and 5 µs a copy (the usual order of CUDA launch and
    /// synchronization latencies through a managed runtime); host link 0.8 of PCIe's one-way bandwidth.
    /// </summary>
    public static PerformanceConstants Assumed { get; } = new(
        bandwidthEfficiency: 0.8,
        computeEfficiency: 0.7,
        launchSeconds: 3e-6,
        hostWaitSeconds: 5e-6,
        copySeconds: 5e-6,
        hostLinkEfficiency: 0.8,
        calibratedBy: "none: uncalibrated assumptions from public specs; no GPU run has calibrated them yet");

    /// <summary>Fraction of the peak device-memory bandwidth a launch's bytes move at.</summary>
    public double BandwidthEfficiency { get; }

    /// <summary>Fraction of the peak fp32 FLOPs a launch's FLOPs run at.</summary>
    public double ComputeEfficiency { get; }

    /// <summary>Cost of one kernel launch besides its work, in seconds.</summary>
    public double LaunchSeconds { get; }

    /// <summary>Cost of one host wait besides the work waited for, in seconds.</summary>
    public double HostWaitSeconds { get; }

    /// <summary>Fixed cost of one copy, in seconds.</summary>
    public double CopySeconds { get; }

    /// <summary>Fraction of the host link's one-way bandwidth the input and output rows move at.</summary>
    public double HostLinkEfficiency { get; }

    /// <summary>The GPU run these constants were fitted to, or a sentence saying there was none.</summary>
    public string CalibratedBy { get; }

    private static double Fraction(double value, string name) =>
        value > 0 && value <= 1 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be in (0, 1].");

    private static double Cost(double value, string name) =>
        value >= 0 && double.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number of seconds >= 0.");
}
