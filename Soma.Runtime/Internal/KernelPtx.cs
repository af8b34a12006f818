using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Soma.Internal;

/// <summary>
/// Compiles every kernel of <see cref="KernelCatalog"/> to PTX with ILGPU's PTX backend, as a CUDA accelerator
/// would (same entry points, same compiler setup, no specialisation), on any machine: no GPU or CUDA driver needed.
/// </summary>
internal static class KernelPtx
{
    /// <summary>The PTX ISA emitted when none is asked for: the newest ILGPU 1.5.3 knows (a current driver's choice).</summary>
    public static CudaInstructionSet DefaultInstructionSet => CudaInstructionSet.ISA_88;

    /// <summary>
    /// Compiles every kernel for compute capability <paramref name="sm"/> (e.g. 90 for sm_90) at
    /// <paramref name="level"/>; returns each variant's name and PTX text, in <see cref="KernelCatalog.Variants"/>'s order (every storage variant of every kernel).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="sm"/> is not a CUDA architecture ILGPU knows.</exception>
    public static IReadOnlyList<(string Name, string Ptx)> Compile(int sm, OptimizationLevel level)
    {
        var architecture = Architecture(sm);
        using var context = Context.Create(builder => KernelCatalog.Configure(builder, level));
        using var backend = new PTXBackend(
            context, new CudaCapabilityContext(architecture), architecture, DefaultInstructionSet, nvvmAPI: null);
        var result = new List<(string, string)>(KernelCatalog.Variants.Count);
        foreach (var entry in KernelCatalog.Variants)
        {
            var description = EntryPointDescription.FromExplicitlyGroupedKernel(entry.Kernel.Method);
            var compiled = (PTXCompiledKernel)backend.Compile(description, KernelSpecialization.Empty);
            result.Add((entry.Name, compiled.PTXAssembly));
        }

        return result;
    }

    /// <summary>The CUDA architecture for compute capability <paramref name="sm"/> (major * 10 + minor).</summary>
    private static CudaArchitecture Architecture(int sm)
    {
        var known = typeof(CudaArchitecture).GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Where(f => f.FieldType == typeof(CudaArchitecture))
            .Select(f => (CudaArchitecture)f.GetValue(null)!)
            .ToList();
        var wanted = new CudaArchitecture(sm / 10, sm % 10);
        return sm > 0 && known.Contains(wanted)
            ? wanted
            : throw new ArgumentOutOfRangeException(
                nameof(sm), sm, $"compute capability {sm} is not one ILGPU knows ({string.Join(", ", known.Select(a => $"{a.Major}{a.Minor}"))}).");
    }
}
