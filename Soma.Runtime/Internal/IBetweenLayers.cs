namespace Soma.Internal;

/// <summary>
/// What a whole-model call (<see cref="SomaCausalLM"/>) does between its attention layers on the one call path
/// (<see cref="LayerCall"/>): after layer l has computed, and before any layer commits, it turns layer l's output rows
/// into layer l + 1's input rows in place (residual, norm, MLP, next norm); after the last layer it computes the call's
/// result. A failure here rolls every layer back like any other failure of the call.
/// </summary>
internal interface IBetweenLayers
{
    /// <summary>
    /// Null: the layers take and give host rows, and <see cref="After"/> rewrites them. Otherwise the call stays on the
    /// device: every layer reads and writes these rows on this stream (<see cref="CallRunner.RunOnDevice"/>), the host
    /// rows are empty, and the call waits once, at its end.
    /// </summary>
    DeviceRows? Device { get; }

    /// <summary>
    /// Called after layer <paramref name="layer"/> has computed: with its output rows [rows, D] on the host, which it
    /// rewrites as the next layer's input, or (<see cref="Device"/>) with an empty span while the rows stay on the device.
    /// </summary>
    void After(int layer, Span<float> rows);
}
