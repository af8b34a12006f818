using System.Text.Json;
using Soma;

namespace Soma.Tests.IO;

/// <summary>
/// Writes a Hugging Face-style checkpoint folder for tests: config.json (D 12, Hkv 2, dh 4, rope_theta 1000) and the
/// layers' q/k/v/o_proj (q/k/v biases when the weights have them), in one model.safetensors or two shards with an index.
/// <c>halfKey</c> names one tensor stored as <c>halfDtype</c> (F16 or BF16) instead of F32;
/// <c>config</c> entries replace or add config.json keys (a null value removes the key);
/// <c>extra</c> tensors are stored as well.
/// </summary>
internal static class FakeCheckpoint
{
    public static void Write(
        string folder, SomaLayerWeights[] layers, bool sharded, string? halfKey, int headsInConfig = 4, string halfDtype = "F16",
        IReadOnlyDictionary<string, object?>? config = null, IEnumerable<(string Name, string Dtype, long[] Shape, byte[] Data)>? extra = null)
    {
        var json = new Dictionary<string, object?>
        {
            ["hidden_size"] = 12, ["num_attention_heads"] = headsInConfig, ["num_key_value_heads"] = 2, ["head_dim"] = 4,
            ["num_hidden_layers"] = layers.Length, ["rope_theta"] = 1000.0, ["sliding_window"] = 4096,
        };
        foreach (var (key, value) in config ?? new Dictionary<string, object?>())
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
        var tensors = new List<(string Name, string Dtype, long[] Shape, byte[] Data)>(extra ?? []);
        for (int l = 0; l < layers.Length; l++)
        {
            var w = layers[l];
            string p = $"model.layers.{l}.self_attn.";
            void Add(string name, float[] data, params long[] shape) =>
                tensors.Add(name != halfKey ? (name, "F32", shape, SafetensorsWriter.F32(data))
                    : (name, halfDtype, shape, halfDtype == "BF16" ? SafetensorsWriter.BF16(data) : SafetensorsWriter.F16(data)));
            Add(p + "q_proj.weight", w.Wq, 16, 12);
            Add(p + "k_proj.weight", w.Wk, 8, 12);
            Add(p + "v_proj.weight", w.Wv, 8, 12);
            Add(p + "o_proj.weight", w.Wo, 12, 16);
            if (w.Bq is not null)
            {
                Add(p + "q_proj.bias", w.Bq, 16);
                Add(p + "k_proj.bias", w.Bk!, 8);
                Add(p + "v_proj.bias", w.Bv!, 8);
            }
        }

        tensors.Add(("model.embed_tokens.weight", "BF16", new long[] { 4, 12 }, new byte[96]));
        if (!sharded)
        {
            SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors);
            return;
        }

        var map = new Dictionary<string, string>();
        var shards = tensors.Select((t, i) => (t, shard: i % 2 == 0 ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors")).ToList();
        foreach (var group in shards.GroupBy(s => s.shard))
        {
            SafetensorsWriter.Write(Path.Combine(folder, group.Key), group.Select(g => g.t));
            foreach (var (t, shard) in group)
            {
                map[t.Name] = shard;
            }
        }

        File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"), JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));
    }
}
