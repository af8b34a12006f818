namespace Soma.Internal;

/// <summary>
/// What a whole-model call (<see cref="SomaCausalLM"/>) does between its attention layers on the one call path
/// (<see cref="LayerCall"/>): after layer l has computed, and before any layer commits, it turns layer l's output rows
/// into layer l + 1's input rows in place (residual, norm, MLP, next norm); after the last layer it computes the call's
/// result. A failure here rolls every layer back like any other failure of the call.
/// </summary>
internal interface IBetweenLayers
{
    /// <summary>Called with layer <paramref name="layer"/>'s output rows [rows, D]; rewrites them as the next layer's input.</summary>
    void After(int layer, Span<float> rows);
}
