using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Soma.Tests.Peers.Onnx;
using static Soma.Tests.Peers.OnnxGraph;

namespace Soma.Tests.Peers;

/// <summary>
/// An independent peer for the near field: ONNX Runtime (CPU execution provider) computes attention over q, k and v
/// that the test projects itself. Each call builds a one-node ONNX model in memory (through the ModelProto subset in
/// onnx_subset.proto), runs it once and disposes every native object it made.
/// </summary>
/// <remarks>
/// All tensors go in and come out token-major, the layout of <see cref="Soma.Reference.ReferenceMath.Project"/>:
/// q is [n, H*dh] and k, v are [n, Hkv*dh] (head h occupies columns h*dh .. h*dh+dh-1); the result is [n, H*dh],
/// the concatenated per-head outputs o_h that the output projection consumes. q and k must already carry RoPE; the
/// peer never rotates anything, so its RoPE convention cannot differ from Soma's.
/// </remarks>
public static class OnnxAttentionPeer
{
    /// <summary>
    /// com.microsoft.GroupQueryAttention (CPU kernel) in prompt mode: no past, causal, optionally a local window.
    /// </summary>
    /// <param name="heads">H, the op's num_heads.</param>
    /// <param name="kvHeads">Hkv, the op's kv_num_heads.</param>
    /// <param name="headDim">dh.</param>
    /// <param name="q">Roped queries [n, H*dh].</param>
    /// <param name="k">Roped keys [n, Hkv*dh].</param>
    /// <param name="v">Values [n, Hkv*dh].</param>
    /// <param name="localWindowSize">The op's local_window_size attribute, passed through unchanged; -1 turns the window
    /// off. ORT counts the current key in it (see <see cref="LocalWindowSizeFor"/>). head_size must be a multiple of 8:
    /// the 1.31.1 CPU kernel rejects anything else.</param>
    /// <param name="scale">Softmax scale.</param>
    /// <returns>The attention output [n, H*dh].</returns>
    public static float[] GroupQueryAttention(
        int heads, int kvHeads, int headDim, float[] q, float[] k, float[] v, int localWindowSize, double scale)
    {
        int n = CheckShapes(heads, kvHeads, headDim, q, k, v);
        var node = GroupQueryAttentionNode(
            "gqa", heads, kvHeads, localWindowSize, scale,
            ["query", "key", "value", "past_key", "past_value", "seqlens_k", "total_sequence_length"], "output", "present_key", "present_value");

        long[] pastShape = [1, kvHeads, 0, headDim];
        var graph = new GraphProto
        {
            Name = "soma_peer_gqa",
            Node = { node },
            Input =
            {
                Value("query", TensorProto.Types.DataType.Float, 1, n, heads * headDim),
                Value("key", TensorProto.Types.DataType.Float, 1, n, kvHeads * headDim),
                Value("value", TensorProto.Types.DataType.Float, 1, n, kvHeads * headDim),
                Value("past_key", TensorProto.Types.DataType.Float, pastShape),
                Value("past_value", TensorProto.Types.DataType.Float, pastShape),
                Value("seqlens_k", TensorProto.Types.DataType.Int32, 1),
                Value("total_sequence_length", TensorProto.Types.DataType.Int32),
            },
            Output =
            {
                Value("output", TensorProto.Types.DataType.Float, 1, n, heads * headDim),
                Value("present_key", TensorProto.Types.DataType.Float, 1, kvHeads, n, headDim),
                Value("present_value", TensorProto.Types.DataType.Float, 1, kvHeads, n, headDim),
            },
        };

        var model = Model(graph, MicrosoftOpset);

        // Prompt mode: seqlens_k is total length - 1 per batch entry, total_sequence_length a scalar.
        using var query = OrtValue.CreateTensorValueFromMemory(q, [1, n, heads * headDim]);
        using var key = OrtValue.CreateTensorValueFromMemory(k, [1, n, kvHeads * headDim]);
        using var value = OrtValue.CreateTensorValueFromMemory(v, [1, n, kvHeads * headDim]);
        using var pastKey = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, pastShape);
        using var pastValue = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, pastShape);
        using var seqlensK = OrtValue.CreateTensorValueFromMemory(new[] { n - 1 }, [1]);
        using var totalLength = OrtValue.CreateTensorValueFromMemory(new[] { n }, Array.Empty<long>());
        return RunSingleOutput(
            model,
            ["query", "key", "value", "past_key", "past_value", "seqlens_k", "total_sequence_length"],
            [query, key, value, pastKey, pastValue, seqlensK, totalLength],
            "output",
            n * heads * headDim);
    }

    /// <summary>
    /// The standard ONNX Attention operator (default domain, opset 23) with is_causal = 1, in its 3D form with
    /// q_num_heads / kv_num_heads: plain causal grouped-query attention, every token over positions 0..t.
    /// </summary>
    /// <param name="heads">H, the op's q_num_heads.</param>
    /// <param name="kvHeads">Hkv, the op's kv_num_heads.</param>
    /// <param name="headDim">dh.</param>
    /// <param name="q">Roped queries [n, H*dh].</param>
    /// <param name="k">Roped keys [n, Hkv*dh].</param>
    /// <param name="v">Values [n, Hkv*dh].</param>
    /// <param name="scale">Softmax scale.</param>
    /// <returns>The attention output [n, H*dh].</returns>
    public static float[] CausalAttention(int heads, int kvHeads, int headDim, float[] q, float[] k, float[] v, double scale)
    {
        int n = CheckShapes(heads, kvHeads, headDim, q, k, v);
        var node = CausalAttentionNode("attention", heads, kvHeads, scale, "Q", "K", "V", "Y");

        var graph = new GraphProto
        {
            Name = "soma_peer_attention",
            Node = { node },
            Input =
            {
                Value("Q", TensorProto.Types.DataType.Float, 1, n, heads * headDim),
                Value("K", TensorProto.Types.DataType.Float, 1, n, kvHeads * headDim),
                Value("V", TensorProto.Types.DataType.Float, 1, n, kvHeads * headDim),
            },
            Output = { Value("Y", TensorProto.Types.DataType.Float, 1, n, heads * headDim) },
        };

        var model = Model(graph);
        using var query = OrtValue.CreateTensorValueFromMemory(q, [1, n, heads * headDim]);
        using var key = OrtValue.CreateTensorValueFromMemory(k, [1, n, kvHeads * headDim]);
        using var value = OrtValue.CreateTensorValueFromMemory(v, [1, n, kvHeads * headDim]);
        return RunSingleOutput(model, ["Q", "K", "V"], [query, key, value], "Y", n * heads * headDim);
    }

    /// <summary>
    /// The GroupQueryAttention local_window_size that makes every token attend to exactly the
    /// <paramref name="keys"/> most recent keys including itself (Soma's include-current window W).
    /// </summary>
    /// <remarks>
    /// Observed with ONNX Runtime 1.31.1 on the CPU provider, by matching every token's output against windows
    /// [lo, hi] of every size (and pinned by <c>GroupQueryAttentionLocalWindowSize_CountsTheCurrentKey</c>):
    /// local_window_size = w lets token t see positions [t - w + 1, t], exactly w keys with the current one among
    /// them, so Soma's W maps to w = W unchanged. (-1 means no window; 0 gives every token an empty window and a zero
    /// output.) This differs from the opset-25 Attention operator's left_window_size, which counts only earlier keys.
    /// </remarks>
    public static int LocalWindowSizeFor(int keys)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keys, 1);
        return keys;
    }

    /// <summary>
    /// The com.microsoft.GroupQueryAttention node of <see cref="GroupQueryAttention"/> (no rotary, the given local
    /// window and scale): <paramref name="inputs"/> are query, key, value, past_key, past_value, seqlens_k and
    /// total_sequence_length, all 3D [1, n, width] for q, k, v.
    /// </summary>
    internal static NodeProto GroupQueryAttentionNode(
        string name, int heads, int kvHeads, int localWindowSize, double scale, string[] inputs, string output, string presentKey, string presentValue) =>
        new()
        {
            Name = name,
            OpType = "GroupQueryAttention",
            Domain = MicrosoftDomain,
            Input = { inputs },
            Output = { output, presentKey, presentValue },
            Attribute =
            {
                IntAttribute("num_heads", heads),
                IntAttribute("kv_num_heads", kvHeads),
                IntAttribute("local_window_size", localWindowSize),
                IntAttribute("do_rotary", 0),
                FloatAttribute("scale", (float)scale),
            },
        };

    /// <summary>The opset-23 Attention node of <see cref="CausalAttention"/>: is_causal, 3D q/k/v with head counts.</summary>
    internal static NodeProto CausalAttentionNode(string name, int heads, int kvHeads, double scale, string q, string k, string v, string y) =>
        new()
        {
            Name = name,
            OpType = "Attention",
            Domain = string.Empty,
            Input = { q, k, v },
            Output = { y },
            Attribute =
            {
                IntAttribute("is_causal", 1),
                IntAttribute("q_num_heads", heads),
                IntAttribute("kv_num_heads", kvHeads),
                FloatAttribute("scale", (float)scale),
            },
        };

    private static int CheckShapes(int heads, int kvHeads, int headDim, float[] q, float[] k, float[] v)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        int qWidth = heads * headDim;
        int kvWidth = kvHeads * headDim;
        if (q.Length == 0 || q.Length % qWidth != 0)
        {
            throw new ArgumentException($"q has {q.Length} elements, not a positive multiple of H*dh = {qWidth}.", nameof(q));
        }

        int n = q.Length / qWidth;
        if (k.Length != n * kvWidth || v.Length != n * kvWidth)
        {
            throw new ArgumentException($"k and v must be [n={n}, Hkv*dh={kvWidth}]; got {k.Length} and {v.Length} elements.", nameof(k));
        }

        return n;
    }
}
