using System.Text.Json;

namespace Soma.IO;

/// <summary>The attention-related fields of a Hugging Face config.json (Qwen2, Llama, Mistral families).</summary>
/// <param name="HiddenSize">hidden_size (D).</param>
/// <param name="Heads">num_attention_heads (H).</param>
/// <param name="KvHeads">num_key_value_heads (Hkv; H when absent).</param>
/// <param name="HeadDim">head_dim (hidden_size / num_attention_heads when absent).</param>
/// <param name="Layers">num_hidden_layers.</param>
/// <param name="RopeTheta">rope_theta (or rope_parameters.rope_theta, as transformers 5 writes it), or null when absent.</param>
/// <param name="SlidingWindow">sliding_window, or null when absent, null, or turned off by use_sliding_window false.</param>
public sealed record HuggingFaceConfig(int HiddenSize, int Heads, int KvHeads, int HeadDim, int Layers, double? RopeTheta, int? SlidingWindow)
{
    /// <summary>max_window_layers (Qwen2): with use_sliding_window true and no layer_types, the layers below it use full attention.</summary>
    public int? MaxWindowLayers { get; init; }

    /// <summary>layer_types, where config.json lists them: "full_attention" or "sliding_attention" per layer.</summary>
    public IReadOnlyList<string>? LayerTypes { get; init; }

    /// <summary>
    /// The RoPE variant that rope_scaling or rope_parameters names (rope_type, or type), when it is not plain RoPE
    /// ("default"): e.g. "llama3", "yarn", "linear". Null for plain RoPE.
    /// </summary>
    public string? RopeScaling { get; init; }

    /// <summary>
    /// The sliding window the model uses in <paramref name="layer"/>, or null for full causal attention there:
    /// <see cref="SlidingWindow"/>, narrowed by layer_types, or else by max_window_layers when use_sliding_window is set.
    /// </summary>
    public int? SlidingWindowOf(int layer)
    {
        if (SlidingWindow is null)
        {
            return null;
        }

        if (LayerTypes is { } types)
        {
            return layer < types.Count && types[layer] == "sliding_attention" ? SlidingWindow : null;
        }

        return MaxWindowLayers is { } full && layer < full ? null : SlidingWindow;
    }
}

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
            using var document = ParseJson(index);
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{index} has no weight_map object.");
            }

            foreach (var entry in map.EnumerateObject())
            {
                shardOf[entry.Name] = Path.Combine(folder, ShardName(index, entry));
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
    /// <paramref name="soma"/>, weights q/k/v/o_proj (biases where present). When the four projections are all F16 or
    /// all BF16 they are read as their raw 16-bit patterns (<see cref="SomaLayerWeights.FromBits"/>: never widened on
    /// the host, and a layer stores them bit for bit unless <see cref="SomaLayerOptions.WeightStorage"/> says
    /// otherwise); else they, and every bias, are read as float (exact for F16 and BF16). Tensors whose shape
    /// does not match config.json are an error naming the tensor and the expected shape.
    /// </summary>
    /// <remarks>
    /// Defaults where <paramref name="soma"/> leaves a value out: window = the layer's sliding window
    /// (<see cref="HuggingFaceConfig.SlidingWindowOf"/>) or else <see cref="SomaParameters.DefaultWindow"/>; RoPE on,
    /// with rope_theta or else <see cref="SomaParameters.DefaultRopeTheta"/> (the Qwen2, Llama and Mistral families
    /// all use rotate-half RoPE); see <see cref="SomaParameters"/> for the rest.
    /// </remarks>
    public (SomaLayerOptions Options, SomaLayerWeights Weights) LoadAttentionLayer(int layer, SomaParameters soma)
    {
        ArgumentNullException.ThrowIfNull(soma);
        var c = Config;
        if (layer < 0 || layer >= c.Layers)
        {
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layer must lie in [0, {c.Layers}) (num_hidden_layers).");
        }

        var options = new SomaLayerOptions(
            c.HiddenSize, c.Heads, c.KvHeads, c.HeadDim, soma.Window ?? c.SlidingWindowOf(layer) ?? SomaParameters.DefaultWindow,
            soma.IncludeCurrent, (soma.Rope ?? true) ? c.RopeTheta ?? SomaParameters.DefaultRopeTheta : null, soma.Scale);
        string prefix = $"model.layers.{layer}.self_attn.";
        int q = c.Heads * c.HeadDim, kv = c.KvHeads * c.HeadDim, d = c.HiddenSize;
        string[] names = [prefix + "q_proj.weight", prefix + "k_proj.weight", prefix + "v_proj.weight", prefix + "o_proj.weight"];
        long[][] shapes = [[q, d], [kv, d], [kv, d], [d, q]];
        var dtypes = names.Select(DtypeOf).Distinct().ToArray();
        SomaLayerWeights weights;
        if (dtypes is ["F16" or "BF16"])
        {
            var bits = new ushort[4][];
            var type = SomaStorageType.Float32;
            for (int m = 0; m < 4; m++)
            {
                Check(names[m], shapes[m]);
                (type, bits[m]) = FileOf(names[m])!.ReadBits(names[m]);
            }

            weights = SomaLayerWeights.FromBits(
                type, bits[0], bits[1], bits[2], bits[3], soma.GammaFor(c.KvHeads), soma.AlphaFor(c.Heads),
                ReadOptional(prefix + "q_proj.bias", q), ReadOptional(prefix + "k_proj.bias", kv), ReadOptional(prefix + "v_proj.bias", kv),
                ReadOptional(prefix + "o_proj.bias", d));
        }
        else
        {
            weights = new SomaLayerWeights(
                Read(names[0], shapes[0]), Read(names[1], shapes[1]), Read(names[2], shapes[2]), Read(names[3], shapes[3]),
                soma.GammaFor(c.KvHeads), soma.AlphaFor(c.Heads),
                ReadOptional(prefix + "q_proj.bias", q), ReadOptional(prefix + "k_proj.bias", kv), ReadOptional(prefix + "v_proj.bias", kv),
                ReadOptional(prefix + "o_proj.bias", d));
        }

        weights.Validate(options);
        return (options, weights);
    }

    /// <summary>
    /// What the model's attention in <paramref name="layer"/> does that a Soma layer loaded from it does not, one
    /// sentence each (empty when nothing): a scaled RoPE variant (rope_scaling), or per-head q/k norms (q_norm, k_norm).
    /// Soma's outputs differ from the model's attention by these, whatever its own parameters.
    /// </summary>
    public IReadOnlyList<string> Caveats(int layer)
    {
        var caveats = new List<string>();
        if (Config.RopeScaling is { } scaling)
        {
            caveats.Add($"config.json asks for RoPE scaling '{scaling}'; Soma applies plain RoPE with rope_theta, so positions are encoded differently from the model.");
        }

        string prefix = $"model.layers.{layer}.self_attn.";
        if (HasTensor(prefix + "q_norm.weight") || HasTensor(prefix + "k_norm.weight"))
        {
            caveats.Add($"layer {layer} has q_norm/k_norm (a per-head RMSNorm on q and k); Soma has none, so its attention scores differ from the model's.");
        }

        return caveats;
    }

    /// <summary>
    /// Reads tensor <paramref name="name"/> as float (F32, F16 or BF16 widened), checking its shape against
    /// <paramref name="shape"/>: a missing tensor or another shape is an <see cref="InvalidDataException"/> naming it.
    /// </summary>
    public float[] ReadTensor(string name, params long[] shape) => Read(name, shape);

    /// <summary><see cref="ReadTensor"/>, or null when the checkpoint has no tensor <paramref name="name"/>.</summary>
    public float[]? ReadTensorOrNull(string name, params long[] shape) => ReadOptional(name, shape);

    /// <summary>The safetensors dtype of tensor <paramref name="name"/> ("F32", "F16", "BF16", ...), or null when the checkpoint has no such tensor.</summary>
    public string? DtypeOf(string name) => FileOf(name) is { } f && f.Tensors.TryGetValue(name, out var info) ? info.Dtype : null;

    /// <summary>Whether the checkpoint holds a tensor named <paramref name="name"/>.</summary>
    public bool HasTensor(string name) => FileOf(name)?.Tensors.ContainsKey(name) ?? false;

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

    private float[]? ReadOptional(string name, params long[] shape) => Check(name, shape) ? FileOf(name)!.ReadFloats(name) : null;

    /// <summary>Whether tensor <paramref name="name"/> exists; throws when it exists with another shape.</summary>
    private bool Check(string name, long[] shape)
    {
        var file = FileOf(name);
        if (file is null || !file.Tensors.TryGetValue(name, out var info))
        {
            return false;
        }

        if (!info.Shape.SequenceEqual(shape))
        {
            throw new InvalidDataException(
                $"Tensor '{name}' has shape [{string.Join(", ", info.Shape)}]; config.json implies [{string.Join(", ", shape)}].");
        }

        return true;
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

    /// <summary>A weight_map value: the plain name of a file in the checkpoint folder (never a path that leads out of it).</summary>
    private static string ShardName(string index, JsonProperty entry)
    {
        string? name = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString() : null;
        if (string.IsNullOrEmpty(name) || name != Path.GetFileName(name) || name is "." or ".." || name.Contains('/') || name.Contains('\\'))
        {
            throw new InvalidDataException(
                $"{index}: weight_map maps '{entry.Name}' to {entry.Value.GetRawText()}; expected the name of a .safetensors file in the checkpoint folder.");
        }

        return name;
    }

    private static JsonDocument ParseJson(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path} is not valid JSON: {ex.Message}", ex);
        }
    }

    private static HuggingFaceConfig ReadConfig(string path)
    {
        using var document = ParseJson(path);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{path} is not a JSON object.");
        }

        int? OptionalInt(string key)
        {
            if (!root.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) && i >= 0
                ? i
                : throw new InvalidDataException($"{path}: '{key}' is {v}, not a non-negative integer.");
        }

        int Int(string key) => OptionalInt(key) ?? throw new InvalidDataException($"{path} has no integer '{key}'.");
        JsonElement? Object(string key) => root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;
        static string? Text(JsonElement? e, string key) =>
            e is { } o && o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

        int hidden = Int("hidden_size");
        int heads = Int("num_attention_heads");
        if (heads == 0 || (OptionalInt("head_dim") is null && hidden % heads != 0))
        {
            throw new InvalidDataException($"{path}: hidden_size {hidden} is not a multiple of num_attention_heads {heads}, and there is no head_dim.");
        }

        var ropeParameters = Object("rope_parameters");
        double? theta = root.TryGetProperty("rope_theta", out var t) && t.ValueKind == JsonValueKind.Number ? t.GetDouble()
            : ropeParameters is { } rp && rp.TryGetProperty("rope_theta", out var rt) && rt.ValueKind == JsonValueKind.Number ? rt.GetDouble()
            : null;
        string? scaling = Object("rope_scaling") is { } rs
            ? Text(rs, "rope_type") ?? Text(rs, "type") ?? "unnamed"
            : Text(ropeParameters, "rope_type");
        bool slidingOff = root.TryGetProperty("use_sliding_window", out var use) && use.ValueKind == JsonValueKind.False;
        bool slidingOn = root.TryGetProperty("use_sliding_window", out use) && use.ValueKind == JsonValueKind.True;
        var layerTypes = root.TryGetProperty("layer_types", out var lt) && lt.ValueKind == JsonValueKind.Array
            ? lt.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : "").ToArray()
            : null;
        return new HuggingFaceConfig(
            hidden, heads, OptionalInt("num_key_value_heads") ?? heads, OptionalInt("head_dim") ?? hidden / heads,
            Int("num_hidden_layers"), theta, slidingOff ? null : OptionalInt("sliding_window"))
        {
            MaxWindowLayers = slidingOn ? OptionalInt("max_window_layers") : null,
            LayerTypes = layerTypes,
            RopeScaling = scaling == "default" ? null : scaling,
        };
    }
}
