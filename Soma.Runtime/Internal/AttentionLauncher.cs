using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// Near-field attention and its split combine (<see cref="NearFieldAttention"/>, <see cref="SoftmaxCombine"/>), or the
/// split-KV decode attention (<see cref="SplitKvDecodeAttention"/>), launched as an <see cref="AttentionLaunch"/> says.
/// </summary>
/// <typeparam name="TRing">How the ring stores keys and values (<see cref="IElementView"/>).</typeparam>
internal sealed class AttentionLauncher<TRing>
    where TRing : struct, IElementView
{
    private readonly Action<AcceleratorStream, KernelConfig, AttentionArgs, AttentionTiling, SegmentArgs, StoredKeyValues<TRing>> attention;
    private readonly Action<AcceleratorStream, KernelConfig, AttentionArgs, AttentionTiling> combine;
    private readonly Action<AcceleratorStream, KernelConfig, AttentionArgs, AttentionTiling, SegmentArgs, StoredKeyValues<TRing>> decode;

    /// <summary>Loads the three kernels on <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The accelerator.</param>
    public AttentionLauncher(Accelerator accelerator)
    {
        attention = accelerator.LoadKernel(KernelCatalog.Attention<TRing>());
        combine = accelerator.LoadKernel(KernelCatalog.AttentionCombine);
        decode = accelerator.LoadKernel(KernelCatalog.DecodeAttention<TRing>());
    }

    /// <summary>The compiled attention kernel (for occupancy estimates).</summary>
    public Kernel Kernel => attention.GetKernel();

    /// <summary>The compiled combine kernel.</summary>
    public Kernel Combine => combine.GetKernel();

    /// <summary>The compiled split-KV decode kernel.</summary>
    public Kernel Decode => decode.GetKernel();

    /// <summary>
    /// Enqueues attention over <paramref name="args"/> as <paramref name="launch"/> plans it: the split-KV decode kernel
    /// (one launch), or near-field attention and, when split, the combine.
    /// </summary>
    /// <param name="stream">The stream.</param>
    /// <param name="launch">The plan's entry.</param>
    /// <param name="args">Inputs and outputs (partial buffers at least <see cref="AttentionLaunch.Partials"/> states when split; for a split <see cref="AttentionLaunch.SplitKv"/> launch, <see cref="AttentionArgs.Arrivals"/> at least rows x Hkv counters, all 0).</param>
    /// <param name="segments">The launch's segments.</param>
    /// <param name="keyValues">The chunk's and the rings' keys and values in the ring's storage type.</param>
    public void Launch(AcceleratorStream stream, AttentionLaunch launch, in AttentionArgs args, SegmentArgs segments, StoredKeyValues<TRing> keyValues)
    {
        if (launch.SplitKv)
        {
            decode(stream, launch.Config, args, launch.Tiling, segments, keyValues);
            return;
        }

        attention(stream, launch.Config, args, launch.Tiling, segments, keyValues);
        if (launch.HasCombine)
        {
            combine(stream, launch.CombineConfig, args, launch.Tiling);
        }
    }
}
