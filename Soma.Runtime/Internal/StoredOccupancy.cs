namespace Soma.Internal;

/// <summary>
/// The occupancy of a layer's own kernel variants: asked about a kernel of <see cref="KernelCatalog.All"/>, it answers
/// for the variant the layer launches (<see cref="KernelCatalog.VariantOf"/>, e.g. "qkv-gemv" of a layer with bf16
/// weights and an fp16 ring is "qkv-gemv-wbf16-rf16"), whose registers can differ from the fp32 form's.
/// </summary>
/// <param name="inner">The engine's occupancy, which answers by variant name.</param>
/// <param name="weights">The layer's weight storage type.</param>
/// <param name="ring">The layer's ring storage type.</param>
internal sealed class StoredOccupancy(IOccupancy inner, SomaStorageType weights, SomaStorageType ring) : IOccupancy
{
    /// <inheritdoc/>
    public int GroupsPerMultiprocessor(string kernel, int groupSize, int sharedBytes) =>
        inner.GroupsPerMultiprocessor(KernelCatalog.VariantOf(kernel, weights, ring), groupSize, sharedBytes);
}
