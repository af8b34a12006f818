namespace Soma.Kernels;

/// <summary>
/// A device array of fp32 values as one storage type holds them: the one place a kernel reads a stored weight or
/// ring element (<see cref="Load"/>, <see cref="LoadQuad"/> and <see cref="LoadOctet"/>, widened to fp32, exact) or writes one (<see cref="Store"/>, rounded to nearest
/// even). Implemented by <see cref="Float32View"/>, <see cref="Float16View"/> and <see cref="BFloat16View"/> and used
/// through a struct type parameter, so ILGPU compiles one kernel per storage type with the calls inlined.
/// </summary>
internal interface IElementView
{
    /// <summary>Element <paramref name="index"/> as fp32.</summary>
    /// <param name="index">Element index.</param>
    float Load(int index);

    /// <summary>
    /// Elements 4q .. 4q + 3 as fp32, read in one load: one 128-bit load of fp32 elements (16-byte aligned), one
    /// 64-bit load of 16-bit ones (8-byte aligned). The array's length must be a multiple of 4.
    /// </summary>
    /// <param name="quadIndex">Quad index q.</param>
    Float4 LoadQuad(int quadIndex);

    /// <summary>
    /// Elements 8o .. 8o + 7 as fp32: 16-bit elements in one 128-bit load (16-byte aligned), fp32 ones in two. The
    /// array's length must be a multiple of 8; the elements must be finite (the decode GEMV's weights: fp16 widens them
    /// without the branches for infinities).
    /// </summary>
    /// <param name="octetIndex">Octet index o.</param>
    Float8 LoadOctet(int octetIndex);

    /// <summary>Stores <paramref name="value"/> at <paramref name="index"/>, rounded to the storage type.</summary>
    /// <param name="index">Element index.</param>
    /// <param name="value">The fp32 value.</param>
    void Store(int index, float value);
}
