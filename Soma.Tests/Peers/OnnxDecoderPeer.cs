using Microsoft.ML.OnnxRuntime;
using Soma.Tests.Peers.Onnx;
using static Soma.Tests.Peers.OnnxGraph;

namespace Soma.Tests.Peers;

/// <summary>
/// An independent peer for whole decoders: the model of a <see cref="CausalLMWeights"/> as one ONNX graph (opset 23,
/// weights as initializers) that ONNX Runtime's CPU execution provider runs over a prompt, returning the logits of
/// every token. Nothing of Soma computes here: Gather for the embedding, RMSNormalization, Gemm for every projection,
/// RotaryEmbedding (rotate-half), attention as the attention peer expresses it, Sigmoid * x * up for SwiGLU, Add for the
/// residuals and the LM head as a Gemm over the embedding initializer itself when the embeddings are tied.
/// </summary>
/// <remarks>
/// Attention per layer: a full-attention layer is the opset-23 Attention operator with is_causal; a Soma layer must have
/// alpha = 0 and include_current (the field term has no ONNX operator), which leaves causal attention over the W most
/// recent tokens: com.microsoft.GroupQueryAttention with local_window_size W (see
/// <see cref="OnnxAttentionPeer.LocalWindowSizeFor"/>), whose CPU kernel needs head_dim a multiple of 8.
/// </remarks>
public static class OnnxDecoderPeer
{
    /// <summary>Logits [n, V] of every token of <paramref name="tokens"/> (one sequence from position 0).</summary>
    public static float[] Logits(CausalLMWeights model, IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokens);
        int n = tokens.Count, d = model.ModelDim, vocab = model.VocabSize;
        if (n == 0 || tokens.Any(t => (uint)t >= (uint)vocab))
        {
            throw new ArgumentException($"tokens must be a non-empty list of ids in [0, {vocab}).", nameof(tokens));
        }

        var g = new GraphBuilder(n);
        string embedding = g.Weight("embed_tokens", model.Embedding, vocab, d);
        string h = g.Node("Gather", [embedding, "input_ids"], IntAttribute("axis", 0));
        for (int l = 0; l < model.Layers.Count; l++)
        {
            var layer = model.Layers[l];
            h = g.Node("Add", [h, Attention(g, $"l{l}", layer, g.RmsNorm(h, layer.InputNorm, model.Config.RmsNormEps))]);
            string u = g.RmsNorm(h, layer.PostAttentionNorm, model.Config.RmsNormEps);
            int inter = model.Config.IntermediateSize;
            string gate = g.Linear(u, $"l{l}.gate", layer.Gate, null, inter);
            string up = g.Linear(u, $"l{l}.up", layer.Up, null, inter);
            string silu = g.Node("Mul", [gate, g.Node("Sigmoid", [gate])]);
            h = g.Node("Add", [h, g.Linear(g.Node("Mul", [silu, up]), $"l{l}.down", layer.Down, null, d)]);
        }

        string final = g.RmsNorm(h, model.FinalNorm, model.Config.RmsNormEps);
        string logits = model.LmHead is null ? g.Node("Gemm", [final, embedding], IntAttribute("transB", 1)) : g.Linear(final, "lm_head", model.LmHead, null, vocab);
        var graph = g.Build(logits, vocab);

        var ids = tokens.Select(t => (long)t).ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(ids, [n]);
        return RunSingleOutput(Model(graph, MicrosoftOpset), ["input_ids"], [input], logits, n * vocab);
    }

    /// <summary>The attention block of one layer on x [n, D]: projections, RoPE, attention, output projection.</summary>
    private static string Attention(GraphBuilder g, string name, DecoderLayerWeights layer, string x)
    {
        var o = layer.Options;
        var w = layer.Attention;
        int qWidth = o.Heads * o.HeadDim, kvWidth = o.KvHeads * o.HeadDim;
        string q = g.To3D(g.Linear(x, name + ".q", w.Wq, w.Bq, qWidth), qWidth);
        string k = g.To3D(g.Linear(x, name + ".k", w.Wk, w.Bk, kvWidth), kvWidth);
        string v = g.To3D(g.Linear(x, name + ".v", w.Wv, w.Bv, kvWidth), kvWidth);
        if (o.RopeTheta is { } theta)
        {
            q = g.Rope(q, o.Heads, o.HeadDim, theta);
            k = g.Rope(k, o.KvHeads, o.HeadDim, theta);
        }

        string y = g.Name(name + ".attention");
        if (layer.FullAttention)
        {
            g.Add(OnnxAttentionPeer.CausalAttentionNode(y, o.Heads, o.KvHeads, o.Scale, q, k, v, y));
        }
        else
        {
            if (!o.IncludeCurrent || w.Alpha.Any(a => a != 0f))
            {
                throw new ArgumentException(
                    $"{name}: the peer expresses a Soma layer as windowed causal attention only: it needs alpha = 0 and include_current (the field has no ONNX operator).",
                    nameof(layer));
            }

            var inputs = new[] { q, k, v, g.EmptyPast(o.KvHeads, o.HeadDim), g.EmptyPast(o.KvHeads, o.HeadDim), g.SeqLensK, g.TotalLength };
            g.Add(OnnxAttentionPeer.GroupQueryAttentionNode(
                y, o.Heads, o.KvHeads, OnnxAttentionPeer.LocalWindowSizeFor(o.Window), o.Scale, inputs, y, y + ".present_key", y + ".present_value"));
        }

        return g.Linear(g.To2D(y, qWidth), name + ".o", w.Wo, w.Bo, o.ModelDim);
    }

    /// <summary>Nodes and initializers of one decoder graph over a prompt of n tokens; tensors are 2D [n, width] between blocks.</summary>
    private sealed class GraphBuilder(int n)
    {
        private readonly GraphProto graph = new() { Name = "soma_peer_decoder" };
        private readonly HashSet<string> shared = new();
        private int count;

        /// <summary>seqlens_k of GroupQueryAttention in prompt mode: n - 1.</summary>
        public string SeqLensK => Shared("seqlens_k", () => Ints("seqlens_k", [n - 1], 1));

        /// <summary>total_sequence_length of GroupQueryAttention: n (a scalar).</summary>
        public string TotalLength => Shared("total_sequence_length", () => Ints("total_sequence_length", [n]));

        public string Name(string stem) => $"{stem}#{count++}";

        public void Add(NodeProto node) => graph.Node.Add(node);

        public string Node(string op, string[] inputs, params AttributeProto[] attributes)
        {
            string output = Name(op);
            Add(new NodeProto { Name = output, OpType = op, Domain = string.Empty, Input = { inputs }, Output = { output }, Attribute = { attributes } });
            return output;
        }

        public string Weight(string name, float[] values, params long[] dims)
        {
            graph.Initializer.Add(Floats(name, values, dims));
            return name;
        }

        /// <summary>x W^T + b for nn.Linear weights W [rows, width of x].</summary>
        public string Linear(string x, string name, float[] weight, float[]? bias, int rows)
        {
            string w = Weight(name + ".weight", weight, rows, weight.Length / rows);
            return bias is null
                ? Node("Gemm", [x, w], IntAttribute("transB", 1))
                : Node("Gemm", [x, w, Weight(name + ".bias", bias, rows)], IntAttribute("transB", 1));
        }

        public string RmsNorm(string x, float[] weight, double eps) =>
            Node("RMSNormalization", [x, Weight(Name("norm"), weight, weight.Length)], IntAttribute("axis", -1), FloatAttribute("epsilon", (float)eps));

        public string To3D(string x, int width) => Node("Reshape", [x, Shape(1, n, width)]);

        public string To2D(string x, int width) => Node("Reshape", [x, Shape(n, width)]);

        /// <summary>Rotate-half RoPE on [1, n, heads * dh]: cos and sin of p * theta^(-2j/dh) per position and pair.</summary>
        public string Rope(string x, int heads, int headDim, double theta)
        {
            string key = $"rope.{headDim}.{theta:R}";
            string cos = Shared(key + ".cos", () => Table(key + ".cos", headDim, theta, Math.Cos));
            string sin = Shared(key + ".sin", () => Table(key + ".sin", headDim, theta, Math.Sin));
            string positions = Shared("position_ids", () => Longs("position_ids", Enumerable.Range(0, n).Select(p => (long)p).ToArray(), 1, n));
            return Node("RotaryEmbedding", [x, cos, sin, positions], IntAttribute("num_heads", heads), IntAttribute("interleaved", 0));
        }

        /// <summary>An empty past key or value [1, Hkv, 0, dh] for GroupQueryAttention in prompt mode.</summary>
        public string EmptyPast(int kvHeads, int headDim) =>
            Shared($"past.{kvHeads}.{headDim}", () => Floats($"past.{kvHeads}.{headDim}", [], 1, kvHeads, 0, headDim));

        public GraphProto Build(string logits, int vocab)
        {
            graph.Input.Add(Value("input_ids", TensorProto.Types.DataType.Int64, n));
            graph.Output.Add(Value(logits, TensorProto.Types.DataType.Float, n, vocab));
            return graph;
        }

        private string Shape(params long[] dims) => Shared($"shape.{string.Join('x', dims)}", () => Longs($"shape.{string.Join('x', dims)}", dims, dims.Length));

        private TensorProto Table(string name, int headDim, double theta, Func<double, double> f)
        {
            int half = headDim / 2;
            var table = new float[n * half];
            for (int p = 0; p < n; p++)
            {
                for (int j = 0; j < half; j++)
                {
                    table[p * half + j] = (float)f(p * Math.Pow(theta, -2.0 * j / headDim));
                }
            }

            return Floats(name, table, n, half);
        }

        private string Shared(string name, Func<TensorProto> make)
        {
            if (shared.Add(name))
            {
                graph.Initializer.Add(make());
            }

            return name;
        }
    }
}
