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
    /// <summary>Kernels loaded here (three per projection: its tile loop, decode GEMV and split-K reduce).</summary>
    public const int Count = 10;

    private readonly Dictionary<string, Kernel> compiled;

    public DecoderKernels(Accelerator accelerator)
    {
        RowGather = accelerator.LoadKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, long, long>(KernelCatalog.RowGather);
        RmsNorm = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float>(KernelCatalog.RmsNorm);
        ResidualAdd = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, int>(KernelCatalog.ResidualAdd);
        Argmax = accelerator.LoadKernel<ArrayView<float>, ArrayView<int>, int, int>(KernelCatalog.Argmax);
        GateUp = new(accelerator, KernelCatalog.GateUp, KernelCatalog.GateUpGemv, KernelCatalog.GateUpReduce);
        Down = new(accelerator, KernelCatalog.Down, KernelCatalog.DownGemv, KernelCatalog.DownReduce);
        compiled = new Dictionary<string, Kernel>
        {
            ["row-gather"] = RowGather.GetKernel(),
            ["rms-norm"] = RmsNorm.GetKernel(),
            ["gate-up"] = GateUp.Tile,
            ["gate-up-gemv"] = GateUp.Gemv,
            ["gate-up-reduce"] = GateUp.Reduce,
            ["down"] = Down.Tile,
            ["down-gemv"] = Down.Gemv,
            ["down-reduce"] = Down.Reduce,
            ["residual-add"] = ResidualAdd.GetKernel(),
            ["argmax"] = Argmax.GetKernel(),
        };
    }

    /// <summary>The compiled kernel named <paramref name="name"/> (a whole-model kernel of <see cref="KernelCatalog.All"/>), for occupancy estimates.</summary>
    /// <param name="name">The kernel's name.</param>
    /// <exception cref="KeyNotFoundException">No whole-model kernel has that name.</exception>
    public Kernel Compiled(string name) => compiled[name];

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, long, long> RowGather { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float> RmsNorm { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int> ResidualAdd { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, int, int> Argmax { get; }

    /// <summary>act = silu(x Wg^T) * (x Wu^T), one projection over [gate; up] (tile loop or decode GEMV).</summary>
    public ProjectionLauncher<Float32View, SwiGluEpilogue> GateUp { get; }

    /// <summary>h += act Wd^T (tile loop or decode GEMV).</summary>
    public ProjectionLauncher<Float32View, ResidualEpilogue> Down { get; }
}
