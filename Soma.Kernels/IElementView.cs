namespace Soma.Kernels;

/// <summary>
/// A device array of fp32 values as one storage type holds them: the one place a kernel reads a stored weight or
/// ring element (<see cref="Load"/>, widened to fp32, exact) or writes one (<see cref="Store"/>, rounded to nearest
/// even). Implemented by <see cref="Float32View"/>, <see cref="Float16View"/> and <see cref="BFloat16View"/> and used
/// through a struct type parameter, so ILGPU compiles one kernel per storage type with the calls inlined.
/// </summary>
internal interface IElementView
{
    /// <summary>Element <paramref name="index"/> as fp32.</summary>
    /// <param name="index">Element index.</param>
    float Load(int index);

    /// <summary>Stores <paramref name="value"/> at <paramref name="index"/>, rounded to the storage type.</summary>
    /// <param name="index">Element index.</param>
    /// <param name="value">The fp32 value.</param>
    void Store(int index, float value);
}
