using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// The whole-model kernels of <see cref="KernelCatalog"/>, loaded once per engine: gathers, RMSNorm, residual add,
/// argmax, and the MLP's projections (the shared projection tile loop with the SwiGLU and residual epilogues); the
/// kernels that read a weight once per storage type (<see cref="For{TW}"/>).
/// </summary>
internal sealed class DecoderKernels
{
    /// <summary>Kernels loaded here (three per projection: its tile loop, decode GEMV and split-K reduce).</summary>
    public const int Count = 11;

    private readonly Dictionary<string, Kernel> compiled;
    private readonly Lazy<DecoderWeightKernels<Float16View>> float16;
    private readonly Lazy<DecoderWeightKernels<BFloat16View>> bfloat16;

    public DecoderKernels(Accelerator accelerator)
    {
        Float32 = new DecoderWeightKernels<Float32View>(accelerator);
        float16 = new(() => new DecoderWeightKernels<Float16View>(accelerator));
        bfloat16 = new(() => new DecoderWeightKernels<BFloat16View>(accelerator));
        RmsNorm = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float>(KernelCatalog.RmsNorm);
        ResidualAdd = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, int>(KernelCatalog.ResidualAdd);
        TopK = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, int>(KernelCatalog.TopK);
        Argmax = accelerator.LoadKernel<ArrayView<float>, ArrayView<int>, int, int, float, long, long, int>(KernelCatalog.Argmax);
        compiled = new Dictionary<string, Kernel>
        {
            ["row-gather"] = Float32.RowGather.GetKernel(),
            ["rms-norm"] = RmsNorm.GetKernel(),
            ["gate-up"] = Float32.GateUp.Tile,
            ["gate-up-gemv"] = Float32.GateUp.Gemv,
            ["gate-up-reduce"] = Float32.GateUp.Reduce,
            ["down"] = Float32.Down.Tile,
            ["down-gemv"] = Float32.Down.Gemv,
            ["down-reduce"] = Float32.Down.Reduce,
            ["residual-add"] = ResidualAdd.GetKernel(),
            ["argmax"] = Argmax.GetKernel(),
            ["top-k"] = TopK.GetKernel(),
        };
    }

    /// <summary>The compiled kernel named <paramref name="name"/> (a whole-model kernel of <see cref="KernelCatalog.All"/>), for occupancy estimates.</summary>
    /// <param name="name">The kernel's name.</param>
    /// <exception cref="KeyNotFoundException">No whole-model kernel has that name.</exception>
    public Kernel Compiled(string name) => compiled[name];

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, float> RmsNorm { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int> ResidualAdd { get; }

    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<int>, int, int, float, long, long, int> Argmax { get; }

    /// <summary>The k largest logits of each row with their indices (<see cref="Kernels.TopK"/>).</summary>
    public Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<int>, int, int, int> TopK { get; }

    /// <summary>The gather and MLP projections over fp32 weights (loaded with the decoder kernels).</summary>
    public DecoderWeightKernels<Float32View> Float32 { get; }

    /// <summary>The gather and MLP projections over weights stored as <typeparamref name="TW"/>; the 16-bit sets load on first use.</summary>
    /// <typeparam name="TW">How the decoder's weights are stored.</typeparam>
    public DecoderWeightKernels<TW> For<TW>()
        where TW : struct, IElementView =>
        typeof(TW) == typeof(Float32View) ? (DecoderWeightKernels<TW>)(object)Float32
        : typeof(TW) == typeof(Float16View) ? (DecoderWeightKernels<TW>)(object)float16.Value
        : (DecoderWeightKernels<TW>)(object)bfloat16.Value;
}
