using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// The whole-model kernels that read a decoder weight, for weights stored as <typeparamref name="TW"/>: the row gather
/// (embedding lookup; the fp32 set also gathers picked rows of activations) and the MLP's two projections.
/// </summary>
/// <typeparam name="TW">How the decoder's weights are stored.</typeparam>
internal sealed class DecoderWeightKernels<TW>
    where TW : struct, IElementView
{
    /// <summary>Loads the gather and the two projections for <typeparamref name="TW"/> on <paramref name="accelerator"/>.</summary>
    public DecoderWeightKernels(Accelerator accelerator)
    {
        RowGather = accelerator.LoadKernel<TW, ArrayView<int>, ArrayView<float>, int, int, long, long>(KernelCatalog.RowGather<TW>());
        GateUp = new(accelerator, KernelCatalog.GateUp<TW>(), KernelCatalog.GateUpGemv<TW>(), KernelCatalog.GateUpReduce);
        Down = new(accelerator, KernelCatalog.Down<TW>(), KernelCatalog.DownGemv<TW>(), KernelCatalog.DownReduce);
    }

    /// <summary>y[r, c] = table[index[r] * rowStride + c * colStride], the table read as <typeparamref name="TW"/>.</summary>
    public Action<AcceleratorStream, KernelConfig, TW, ArrayView<int>, ArrayView<float>, int, int, long, long> RowGather { get; }

    /// <summary>act = silu(x Wg^T) * (x Wu^T), one projection over [gate; up] (tile loop or decode GEMV).</summary>
    public ProjectionLauncher<TW, SwiGluEpilogue> GateUp { get; }

    /// <summary>h += act Wd^T (tile loop or decode GEMV).</summary>
    public ProjectionLauncher<TW, ResidualEpilogue> Down { get; }
}
