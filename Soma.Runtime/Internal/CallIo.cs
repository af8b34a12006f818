using ILGPU;

namespace Soma.Internal;

/// <summary>
/// Where a call's (or one layer's part of a call's) input rows come from and where its output rows go: host spans,
/// copied through the pass's page-locked block; views on the engine's accelerator, used in place (no copy of x or y);
/// or, for the output of a layer inside a model call, the layer's own scratch rows (the next layer reads them there).
/// </summary>
internal readonly ref struct CallIo
{
    /// <summary>Rows from and to wherever the arguments say: x from the host span unless the device view is valid;
    /// y to the device view when valid, else to the host span when not empty, else into the layer's scratch.</summary>
    /// <param name="hostX">Host input rows [n, D], or empty.</param>
    /// <param name="deviceX">Input rows [n, D] on the engine's accelerator, or default.</param>
    /// <param name="hostY">Host output rows [n, D], or empty.</param>
    /// <param name="deviceY">Output rows [n, D] on the engine's accelerator (may be <paramref name="deviceX"/>: in place), or default.</param>
    public CallIo(ReadOnlySpan<float> hostX, ArrayView<float> deviceX, Span<float> hostY, ArrayView<float> deviceY)
    {
        HostX = hostX;
        DeviceX = deviceX;
        HostY = hostY;
        DeviceY = deviceY;
    }

    /// <summary>Host input and output rows.</summary>
    /// <param name="x">Input rows [n, D].</param>
    /// <param name="y">Output rows [n, D].</param>
    public static CallIo Host(ReadOnlySpan<float> x, Span<float> y) => new(x, default, y, default);

    /// <summary>Device input and output rows (they may be the same view: the call then runs in place).</summary>
    /// <param name="x">Input rows [n, D] on the engine's accelerator.</param>
    /// <param name="y">Output rows [n, D] on the engine's accelerator.</param>
    public static CallIo Device(ArrayView<float> x, ArrayView<float> y) => new(default, x, default, y);

    /// <summary>Host input rows (empty when x is on the device).</summary>
    public ReadOnlySpan<float> HostX { get; }

    /// <summary>Host output rows (empty when y is on the device or stays in scratch).</summary>
    public Span<float> HostY { get; }

    /// <summary>Device input rows (invalid when x is on the host).</summary>
    public ArrayView<float> DeviceX { get; }

    /// <summary>Device output rows (invalid when y is on the host or stays in scratch).</summary>
    public ArrayView<float> DeviceY { get; }

    /// <summary>Whether x is a device view.</summary>
    public bool XOnDevice => DeviceX.IsValid;

    /// <summary>Whether y is a device view.</summary>
    public bool YOnDevice => DeviceY.IsValid;

    /// <summary>Whether y is host memory.</summary>
    public bool YOnHost => !HostY.IsEmpty;

    /// <summary>Whether both x and y are device views (a device-resident call).</summary>
    public bool OnDevice => XOnDevice && YOnDevice;
}
