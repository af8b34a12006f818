using System.Text.Json;

namespace Soma.Tests.IO;

/// <summary>
/// Writes a tiny random whole-decoder checkpoint folder for tests (config.json and one model.safetensors): embeddings,
/// per layer q/k/v/o (q/k/v biases for Qwen2-style <c>Biases</c>), norms and SwiGLU MLP, final norm, LM head unless
/// tied. Deterministic for a seed; <c>Dtype</c> stores every tensor as F32, F16 or BF16.
/// </summary>
internal sealed record FakeDecoder
{
    public string Architecture { get; init; } = "LlamaForCausalLM";
    public int D { get; init; } = 16;
    public int Heads { get; init; } = 4;
    public int KvHeads { get; init; } = 2;
    public int HeadDim { get; init; } = 4;
    public int Inter { get; init; } = 24;
    public int Vocab { get; init; } = 40;
    public int Layers { get; init; } = 2;
    public bool Biases { get; init; }
    public bool Tied { get; init; }
    public string Dtype { get; init; } = "F32";
    public int Seed { get; init; } = 7;

    /// <summary>config.json entries that replace or add keys (a null value removes the key).</summary>
    public IReadOnlyDictionary<string, object?> Config { get; init; } = new Dictionary<string, object?>();

    /// <summary>Tensors left out of the file.</summary>
    public IReadOnlyCollection<string> Omit { get; init; } = [];

    /// <summary>Tensors written with another shape (the name and its shape).</summary>
    public IReadOnlyDictionary<string, long[]> Reshape { get; init; } = new Dictionary<string, long[]>();

    /// <summary>Writes the folder (created when missing) and returns it.</summary>
    public string Write(string folder)
    {
        Directory.CreateDirectory(folder);
        var json = new Dictionary<string, object?>
        {
            ["architectures"] = new[] { Architecture }, ["model_type"] = Architecture.Replace("ForCausalLM", "").ToLowerInvariant(),
            ["hidden_size"] = D, ["intermediate_size"] = Inter, ["num_hidden_layers"] = Layers, ["num_attention_heads"] = Heads,
            ["num_key_value_heads"] = KvHeads, ["head_dim"] = HeadDim, ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 10000.0,
            ["vocab_size"] = Vocab, ["tie_word_embeddings"] = Tied, ["hidden_act"] = "silu",
        };
        foreach (var (key, value) in Config)
        {
            if (value is null)
            {
                json.Remove(key);
            }
            else
            {
                json[key] = value;
            }
        }

        File.WriteAllText(Path.Combine(folder, "config.json"), JsonSerializer.Serialize(json));
        var rng = new Random(Seed);
        var tensors = new List<(string Name, string Dtype, long[] Shape, byte[] Data)>();
        void Add(string name, double bound, double center, params long[] shape)
        {
            if (Omit.Contains(name))
            {
                return;
            }

            shape = Reshape.GetValueOrDefault(name) ?? shape;
            var data = new float[shape.Aggregate(1L, (a, b) => a * b)];
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = (float)(center + (rng.NextDouble() * 2 - 1) * bound);
            }

            tensors.Add((name, Dtype, shape, Dtype switch
            {
                "F16" => SafetensorsWriter.F16(data),
                "BF16" => SafetensorsWriter.BF16(data),
                _ => SafetensorsWriter.F32(data),
            }));
        }

        int q = Heads * HeadDim, kv = KvHeads * HeadDim;
        Add("model.embed_tokens.weight", 1.0, 0, Vocab, D);
        for (int l = 0; l < Layers; l++)
        {
            string p = $"model.layers.{l}.";
            Add(p + "input_layernorm.weight", 0.2, 1, D);
            Add(p + "self_attn.q_proj.weight", 1 / Math.Sqrt(D), 0, q, D);
            Add(p + "self_attn.k_proj.weight", 1 / Math.Sqrt(D), 0, kv, D);
            Add(p + "self_attn.v_proj.weight", 1 / Math.Sqrt(D), 0, kv, D);
            Add(p + "self_attn.o_proj.weight", 1 / Math.Sqrt(q), 0, D, q);
            if (Biases)
            {
                Add(p + "self_attn.q_proj.bias", 0.1, 0, q);
                Add(p + "self_attn.k_proj.bias", 0.1, 0, kv);
                Add(p + "self_attn.v_proj.bias", 0.1, 0, kv);
            }

            Add(p + "post_attention_layernorm.weight", 0.2, 1, D);
            Add(p + "mlp.gate_proj.weight", 1 / Math.Sqrt(D), 0, Inter, D);
            Add(p + "mlp.up_proj.weight", 1 / Math.Sqrt(D), 0, Inter, D);
            Add(p + "mlp.down_proj.weight", 1 / Math.Sqrt(Inter), 0, D, Inter);
        }

        Add("model.norm.weight", 0.2, 1, D);
        if (!Tied)
        {
            Add("lm_head.weight", 1 / Math.Sqrt(D), 0, Vocab, D);
        }

        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors);
        return folder;
    }
}
