using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// The whole-model kernels of <see cref="KernelCatalog"/>, loaded once per engine: gathers, RMSNorm, residual add,
/// argmax, and the MLP's projections (the shared projection tile loop with the SwiGLU and residual epilogues).
/// </summary>
internal sealed class DecoderKernels
{
    /// <summary>Kernels loaded here (two per projection: its tile loop and its split-K reduce).</summary>
    public const int Count = 8;

    public DecoderKernels(Accelerator accelerator)
    {
        RowGather = accelerator.LoadKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, long, long>(KernelCatalog.RowGather);
        RmsNorm = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float>(KernelCatalog.RmsNorm);
        ResidualAdd = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, int>(KernelCatalog.ResidualAdd);
        Argmax = accelerator.LoadKernel<ArrayView<float>, ArrayView<int>, int, int>(KernelCatalog.Argmax);
        GateUp = new(accelerator, KernelCatalog.GateUp, KernelCatalog.GateUpReduce);
        Down = new(accelerator, KernelCatalog.Down, KernelCatalog.DownReduce);
    }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, long, long> RowGather { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float> RmsNorm { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int> ResidualAdd { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, int, int> Argmax { get; }

    /// <summary>act = silu(x Wg^T) * (x Wu^T), one projection over [gate; up].</summary>
    public ProjectionLauncher<SwiGluEpilogue> GateUp { get; }

    /// <summary>h += act Wd^T.</summary>
    public ProjectionLauncher<ResidualEpilogue> Down { get; }
}
