using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// What a whole-model call (<see cref="SomaCausalLM"/>) does on the device between its attention layers on the one call
/// path (<see cref="LayerCall"/>): the call's rows are device views (every layer reads the same input rows and writes
/// the same output rows), and after layer l has enqueued its passes the hook enqueues, on the call's stream, what turns
/// layer l's output into layer l + 1's input (residual, norm, MLP, next norm); after the last layer, the call's result.
/// It never waits: the call waits once, at its end. A failure here rolls every layer back like any other failure of
/// the call.
/// </summary>
internal interface IBetweenLayers
{
    /// <summary>Enqueues on <paramref name="stream"/> what follows layer <paramref name="layer"/>, once its passes are enqueued.</summary>
    /// <param name="layer">The layer whose passes were just enqueued (0 first).</param>
    /// <param name="stream">The call's stream.</param>
    void After(int layer, AcceleratorStream stream);
}
