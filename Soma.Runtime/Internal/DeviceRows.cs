using ILGPU;
using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// A layer's input and output rows when they stay on the device (a whole model's call, <see cref="IBetweenLayers"/>):
/// the layer reads x [rows, D] and writes y [rows, D] with every launch on <see cref="Stream"/>, and nothing waits.
/// </summary>
/// <param name="X">Input rows.</param>
/// <param name="Y">Output rows.</param>
/// <param name="Stream">The stream every launch of the call goes on, in order.</param>
internal readonly record struct DeviceRows(ArrayView<float> X, ArrayView<float> Y, AcceleratorStream Stream);
