namespace Soma;

/// <summary>
/// How a layer stores an array on the device: its weights (<see cref="SomaLayerOptions.WeightStorage"/>) or its
/// ring of keys and values (<see cref="SomaLayerOptions.RingStorage"/>). Every accumulation is fp32 whatever the
/// storage; the field S is always fp64. See docs/semantics.md, "Storage types".
/// </summary>
public enum SomaStorageType
{
    /// <summary>IEEE fp32, 4 bytes: exact for fp32 inputs.</summary>
    Float32 = 0,

    /// <summary>IEEE fp16, 2 bytes: 11-bit significand, largest finite value 65504; fp32 values are rounded to nearest, ties to even.</summary>
    Float16 = 1,

    /// <summary>bfloat16 (the upper half of an fp32), 2 bytes: 8-bit significand, fp32's range; rounded to nearest, ties to even.</summary>
    BFloat16 = 2,
}
