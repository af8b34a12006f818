using ILGPU;
using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>A kernel of one argument struct (RoPE table, field scan, commit), loaded once and launched with a planned <see cref="KernelConfig"/>.</summary>
/// <typeparam name="TArgs">The kernel's argument struct.</typeparam>
internal sealed class KernelLauncher<TArgs>
    where TArgs : struct
{
    private readonly Action<AcceleratorStream, KernelConfig, TArgs> kernel;

    /// <summary>Loads <paramref name="kernel"/> on <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The accelerator.</param>
    /// <param name="kernel">The explicitly grouped kernel (<see cref="KernelCatalog"/>).</param>
    public KernelLauncher(Accelerator accelerator, Action<TArgs> kernel)
    {
        this.kernel = accelerator.LoadKernel(kernel);
    }

    /// <summary>The compiled kernel (for occupancy estimates).</summary>
    public Kernel Kernel => kernel.GetKernel();

    /// <summary>Enqueues the kernel on <paramref name="stream"/> with the plan's <paramref name="config"/>.</summary>
    /// <param name="stream">The stream.</param>
    /// <param name="config">The plan's launch.</param>
    /// <param name="args">The arguments.</param>
    public void Launch(AcceleratorStream stream, KernelConfig config, in TArgs args) => kernel(stream, config, args);
}
