using ILGPU;
using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>The whole-model kernels of <see cref="KernelCatalog"/> (gather, RMSNorm, SwiGLU, residual add, argmax), loaded once per engine.</summary>
internal sealed class DecoderKernels
{
    public DecoderKernels(Accelerator accelerator)
    {
        RowGather = accelerator.LoadKernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, long, long>(KernelCatalog.RowGather);
        RmsNorm = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float>(KernelCatalog.RmsNorm);
        SwiGlu = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, int, int>(KernelCatalog.SwiGlu);
        ResidualAdd = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, int>(KernelCatalog.ResidualAdd);
        Argmax = accelerator.LoadKernel<ArrayView<float>, ArrayView<int>, int, int>(KernelCatalog.Argmax);
    }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, long, long> RowGather { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float> RmsNorm { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int> SwiGlu { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int> ResidualAdd { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, int, int> Argmax { get; }
}
