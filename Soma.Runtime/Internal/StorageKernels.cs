using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>The kernels that read or write stored elements, loaded for one pair of storage types (<see cref="KernelSet.For{TW, TR}"/>).</summary>
/// <typeparam name="TW">How the weights are stored.</typeparam>
/// <typeparam name="TR">How the ring (and the chunk's rotated k and v) store keys and values.</typeparam>
internal sealed class StorageKernels<TW, TR>
    where TW : struct, IElementView
    where TR : struct, IElementView
{
    /// <summary>Loads the variants on <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The engine's accelerator.</param>
    public StorageKernels(Accelerator accelerator)
    {
        Qkv = new(accelerator, KernelCatalog.Qkv<TW, TR>(), KernelCatalog.QkvGemv<TW, TR>(), KernelCatalog.QkvReduce<TR>());
        Linear = new(accelerator, KernelCatalog.Linear<TW>(), KernelCatalog.LinearGemv<TW>(), KernelCatalog.LinearReduce);
        Attention = new(accelerator);
    }

    /// <summary>
    /// The compiled kernels by their <see cref="KernelCatalog.Variants"/> names (e.g. "qkv-gemv-wbf16-rf16"; the fp32
    /// pair's are the <see cref="KernelCatalog.All"/> names), for occupancy estimates.
    /// </summary>
    public IEnumerable<KeyValuePair<string, Kernel>> Compiled()
    {
        var w = typeof(TW);
        var r = typeof(TR);
        yield return new(KernelCatalog.VariantName("qkv", w, r), Qkv.Tile);
        yield return new(KernelCatalog.VariantName("qkv-gemv", w, r), Qkv.Gemv);
        yield return new(KernelCatalog.VariantName("qkv-reduce", null, r), Qkv.Reduce);
        yield return new(KernelCatalog.VariantName("attention", null, r), Attention.Kernel);
        yield return new("attention-combine", Attention.Combine);
        yield return new(KernelCatalog.VariantName("attention-decode", null, r), Attention.Decode);
        yield return new(KernelCatalog.VariantName("linear", w, null), Linear.Tile);
        yield return new(KernelCatalog.VariantName("linear-gemv", w, null), Linear.Gemv);
        yield return new("linear-reduce", Linear.Reduce);
    }

    /// <summary>The fused QKV projection (bias, head split, RoPE, k and v in the ring's type) and its split-K reduce.</summary>
    public ProjectionLauncher<TW, BiasRopeEpilogue<TR>> Qkv { get; }

    /// <summary>The output projection (bias) and its split-K reduce.</summary>
    public ProjectionLauncher<TW, BiasEpilogue> Linear { get; }

    /// <summary>Near-field attention and its split combine, and the split-KV decode attention.</summary>
    public AttentionLauncher<TR> Attention { get; }
}
