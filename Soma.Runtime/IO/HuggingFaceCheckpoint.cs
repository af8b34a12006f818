using System.Text.Json;

namespace Soma.IO;

/// <summary>The attention-related fields of a Hugging Face config.json (Qwen2, Llama, Mistral families).</summary>
/// <param name="HiddenSize">hidden_size (D).</param>
/// <param name="Heads">num_attention_heads (H).</param>
/// <param name="KvHeads">num_key_value_heads (Hkv; H when absent).</param>
/// <param name="HeadDim">head_dim (hidden_size / num_attention_heads when absent).</param>
/// <param name="Layers">num_hidden_layers.</param>
/// <param name="RopeTheta">rope_theta, or null when absent.</param>
/// <param name="SlidingWindow">sliding_window, or null when absent or null.</param>
public sealed record HuggingFaceConfig(int HiddenSize, int Heads, int KvHeads, int HeadDim, int Layers, double? RopeTheta, int? SlidingWindow);

/// <summary>
/// A checkpoint folder: config.json plus model.safetensors, or shards listed in model.safetensors.index.json.
/// Loading one attention layer maps only the shards that hold it and reads only its tensors.
/// </summary>
public sealed class HuggingFaceCheckpoint : IDisposable
{
    private readonly Dictionary<string, string> shardOf;
    private readonly Dictionary<string, SafetensorsFile> open = new();

    private HuggingFaceCheckpoint(string folder, HuggingFaceConfig config, Dictionary<string, string> shardOf)
    {
        Folder = folder;
        Config = config;
        this.shardOf = shardOf;
    }

    /// <summary>The checkpoint folder.</summary>
    public string Folder { get; }

    /// <summary>The attention fields of config.json.</summary>
    public HuggingFaceConfig Config { get; }

    /// <summary>Opens <paramref name="folder"/>: reads config.json and the shard index (or finds model.safetensors).</summary>
    public static HuggingFaceCheckpoint Open(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string configPath = Path.Combine(folder, "config.json");
        if (!File.Exists(configPath))
        {
            throw new FileNotFoundException($"{folder} has no config.json; expected a Hugging Face checkpoint folder.", configPath);
        }

        var config = ReadConfig(configPath);
        var shardOf = new Dictionary<string, string>();
        string index = Path.Combine(folder, "model.safetensors.index.json");
        string single = Path.Combine(folder, "model.safetensors");
        if (File.Exists(index))
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(index));
            if (!document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{index} has no weight_map object.");
            }

            foreach (var entry in map.EnumerateObject())
            {
                shardOf[entry.Name] = Path.Combine(folder, entry.Value.GetString() ?? throw new InvalidDataException($"{index}: '{entry.Name}' maps to null."));
            }
        }
        else if (!File.Exists(single))
        {
            throw new FileNotFoundException($"{folder} has neither model.safetensors nor model.safetensors.index.json.", single);
        }

        return new HuggingFaceCheckpoint(folder, config, shardOf);
    }

    /// <summary>
    /// The attention of layer <paramref name="layer"/> as a Soma layer: shape from config.json and
    /// <paramref name="soma"/>, weights q/k/v/o_proj (biases where present) converted to float. Tensors whose shape
    /// does not match config.json are an error naming the tensor and the expected shape.
    /// </summary>
    public (SomaLayerOptions Options, SomaLayerWeights Weights) LoadAttentionLayer(int layer, SomaParameters soma)
    {
        ArgumentNullException.ThrowIfNull(soma);
        var c = Config;
        if (layer < 0 || layer >= c.Layers)
        {
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layer must lie in [0, {c.Layers}) (num_hidden_layers).");
        }

        bool rope = soma.Rope ?? c.RopeTheta is not null;
        var options = new SomaLayerOptions(
            c.HiddenSize, c.Heads, c.KvHeads, c.HeadDim, soma.Window ?? c.SlidingWindow ?? 256, soma.IncludeCurrent,
            rope ? c.RopeTheta ?? 10000.0 : null, soma.Scale);
        string prefix = $"model.layers.{layer}.self_attn.";
        int q = c.Heads * c.HeadDim, kv = c.KvHeads * c.HeadDim, d = c.HiddenSize;
        var weights = new SomaLayerWeights(
            Read(prefix + "q_proj.weight", q, d), Read(prefix + "k_proj.weight", kv, d), Read(prefix + "v_proj.weight", kv, d),
            Read(prefix + "o_proj.weight", d, q), soma.GammaFor(c.KvHeads), soma.AlphaFor(c.Heads),
            ReadOptional(prefix + "q_proj.bias", q), ReadOptional(prefix + "k_proj.bias", kv), ReadOptional(prefix + "v_proj.bias", kv),
            ReadOptional(prefix + "o_proj.bias", d));
        weights.Validate(options);
        return (options, weights);
    }

    /// <summary>Releases every mapped shard.</summary>
    public void Dispose()
    {
        foreach (var file in open.Values)
        {
            file.Dispose();
        }

        open.Clear();
    }

    private float[] Read(string name, params long[] shape) =>
        ReadOptional(name, shape) ?? throw new InvalidDataException($"{Folder} has no tensor '{name}'.");

    private float[]? ReadOptional(string name, params long[] shape)
    {
        var file = FileOf(name);
        if (file is null || !file.Tensors.TryGetValue(name, out var info))
        {
            return null;
        }

        if (!info.Shape.SequenceEqual(shape))
        {
            throw new InvalidDataException(
                $"Tensor '{name}' has shape [{string.Join(", ", info.Shape)}]; config.json implies [{string.Join(", ", shape)}].");
        }

        return file.ReadFloats(name);
    }

    private SafetensorsFile? FileOf(string name)
    {
        string? path = shardOf.Count == 0 ? Path.Combine(Folder, "model.safetensors") : shardOf.GetValueOrDefault(name);
        if (path is null)
        {
            return null;
        }

        if (!open.TryGetValue(path, out var file))
        {
            file = SafetensorsFile.Open(path);
            open[path] = file;
        }

        return file;
    }

    private static HuggingFaceConfig ReadConfig(string path)
    {
        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = document.RootElement;
        int Int(string key) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number
            ? v.GetInt32()
            : throw new InvalidDataException($"{path} has no integer '{key}'.");
        int? OptionalInt(string key) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : null;
        int hidden = Int("hidden_size");
        int heads = Int("num_attention_heads");
        double? theta = root.TryGetProperty("rope_theta", out var t) && t.ValueKind == JsonValueKind.Number ? t.GetDouble() : null;
        return new HuggingFaceConfig(
            hidden, heads, OptionalInt("num_key_value_heads") ?? heads, OptionalInt("head_dim") ?? hidden / heads,
            Int("num_hidden_layers"), theta, OptionalInt("sliding_window"));
    }
}
