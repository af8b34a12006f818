using Soma;

namespace Soma.Tests.Infrastructure;

/// <summary>
/// Whether the suites bound to an accelerator run here or skip, and why. The CPU suites always run. The CUDA and
/// OpenCL suites run when the device <c>new SomaEngineOptions(kind)</c> opens (device 0 of that kind) is present and
/// usable (for OpenCL: a GPU; PoCL-like CPU runtimes aborted compiling our kernels), and skip with a reason otherwise,
/// unless <see cref="AcceleratorFixture.Variable"/> names the accelerator: then they run and fail when it is missing.
/// </summary>
public static class AcceleratorAvailability
{
    /// <summary>
    /// The accelerators <paramref name="variable"/> (the value of <see cref="AcceleratorFixture.Variable"/>) requires:
    /// a comma-separated list of cpu, cuda, opencl (auto or empty: none beyond the CPU).
    /// </summary>
    /// <exception cref="ArgumentException">An entry is not an accelerator name.</exception>
    public static IReadOnlySet<SomaAcceleratorKind> Required(string? variable)
    {
        var required = new HashSet<SomaAcceleratorKind> { SomaAcceleratorKind.Cpu };
        foreach (var name in (variable ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            SomaAcceleratorKind kind;
            try
            {
                kind = SomaEngineOptions.ParseKind(name);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException(
                    $"{AcceleratorFixture.Variable}='{variable}': '{name}' is no accelerator; expected a comma-separated list of " +
                    "cpu, cuda, opencl (or auto).", nameof(variable), e);
            }

            if (kind != SomaAcceleratorKind.Auto)
            {
                required.Add(kind);
            }
        }

        return required;
    }

    /// <summary>
    /// Why the suites bound to <paramref name="kind"/> skip, or null when they run. <paramref name="devices"/> is
    /// <see cref="SomaEngine.ListDevices"/>; it is asked for only when the answer depends on it.
    /// </summary>
    public static string? SkipReason(SomaAcceleratorKind kind, string? variable, Func<IReadOnlyList<SomaDeviceInfo>> devices)
    {
        ArgumentNullException.ThrowIfNull(devices);
        if (kind == SomaAcceleratorKind.Cpu)
        {
            return null;
        }

        try
        {
            if (Required(variable).Contains(kind))
            {
                return null;
            }
        }
        catch (ArgumentException)
        {
            return null; // run, so that the fixture fails every test with the message naming the variable
        }

        var device = devices().FirstOrDefault(d => d.Kind == kind && d.Index == 0);
        var name = kind == SomaAcceleratorKind.Cuda ? "CUDA" : kind.ToString();
        var how = $"set {AcceleratorFixture.Variable}={name.ToLowerInvariant()} to make its absence a failure";
        if (device is null)
        {
            return $"No {name} device on this machine; {how}.";
        }

        if (!device.Usable)
        {
            return $"The {name} device is not usable: {device}; {how}.";
        }

        return device.IsOpenClCpu
            ? $"The only OpenCL device is a CPU runtime ({device}), which these suites do not run on by default; {how}."
            : null;
    }
}
