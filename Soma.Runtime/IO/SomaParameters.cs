using System.Globalization;
using System.Text.Json;

namespace Soma.IO;

/// <summary>
/// Soma's own parameters for a layer taken from a checkpoint (the checkpoint has none of them), as read from a
/// small JSON file: <c>{"window": 256, "include_current": true, "gamma": 0.9 or [..per kv-head..],
/// "alpha": 0 or [..per head..], "rope": true, "scale": null}</c>, and for whole models
/// <c>"full_attention_layers": [..] or "all", "kv_capacity": 4096</c>, and per-layer overrides
/// <c>"layers": {"3": {"window": 64}}</c>. Every key is optional.
/// </summary>
/// <param name="Window">W; default: the sliding window the model uses in that layer, else <see cref="DefaultWindow"/> (256).</param>
/// <param name="IncludeCurrent">Window mode; default true (standard causal attention inside the window).</param>
/// <param name="Gamma">Field decay: one value for every kv-head or one per kv-head; default 0.9.</param>
/// <param name="Alpha">Far-field gain: one value for every head or one per head; default 0, so the layer starts as plain windowed attention.</param>
/// <param name="Rope">RoPE on or off; default on, with the model's rope_theta (else <see cref="DefaultRopeTheta"/>).</param>
/// <param name="Scale">Softmax scale; default 1/sqrt(head_dim).</param>
public sealed record SomaParameters(
    int? Window = null,
    bool IncludeCurrent = true,
    float[]? Gamma = null,
    float[]? Alpha = null,
    bool? Rope = null,
    double? Scale = null)
{
    /// <summary>The window when neither the options nor the model's layer set one.</summary>
    public const int DefaultWindow = 256;

    /// <summary>The RoPE base when config.json names none: the default of the Llama, Qwen2 and Mistral families.</summary>
    public const double DefaultRopeTheta = 10000.0;

    /// <summary>
    /// Whole models only (<see cref="SomaCausalLM"/>): the layers that keep standard attention with a full KV cache
    /// instead of a Soma layer (key <c>full_attention_layers</c>: a list of layer indices, or "all" for the
    /// all-standard baseline). Null: every layer is a Soma layer.
    /// </summary>
    public IReadOnlyList<int>? FullAttentionLayers { get; init; }

    /// <summary>Whole models only: every layer keeps standard attention (<c>"full_attention_layers": "all"</c>).</summary>
    public bool AllFullAttention { get; init; }

    /// <summary>Whole models only: tokens a full-attention layer's KV cache holds per session (key <c>kv_capacity</c>; default <see cref="DefaultKvCapacity"/>).</summary>
    public int KvCapacity { get; init; } = DefaultKvCapacity;

    /// <summary>The KV cache capacity of full-attention layers when the options name none.</summary>
    public const int DefaultKvCapacity = 4096;

    /// <summary>The file these parameters were read from (<see cref="Load"/>), named in errors; null when built in code.</summary>
    public string? Source { get; init; }

    /// <summary>
    /// Reads the JSON options file at <paramref name="path"/>. Unknown keys, wrong types and values out of range are
    /// <see cref="InvalidDataException"/>s naming the key and the file, e.g. "gamma[0] is 1.5 in soma.json; expected
    /// 0 &lt;= gamma &lt; 1".
    /// </summary>
    public static SomaParameters Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path} is not valid JSON: {ex.Message}", ex);
        }

        using var _ = document;
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{path}: expected a JSON object of Soma options.");
        }

        var p = Apply(new SomaParameters { Source = path }, root, path, "");
        if (root.TryGetProperty("layers", out var layers))
        {
            if (layers.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{path}: 'layers' must be an object of per-layer options, e.g. {{\"0\": {{\"window\": 64}}}}.");
            }

            var overrides = new Dictionary<int, SomaParameters>();
            foreach (var entry in layers.EnumerateObject())
            {
                if (!int.TryParse(entry.Name, System.Globalization.NumberStyles.None, CultureInfo.InvariantCulture, out int layer)
                    || entry.Value.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException($"{path}: layers.{entry.Name} must be a layer index (0, 1, ...) with an object of options.");
                }

                var own = Apply(p, entry.Value, path, $"layers.{entry.Name}.");
                own.CheckRanges(path);
                overrides[layer] = own;
            }

            p = p with { LayerOverrides = overrides };
        }

        p.CheckRanges(path);
        return p;
    }

    /// <summary>
    /// Per-layer options (key <c>layers</c>: <c>{"3": {"window": 64, "alpha": 0.2}}</c>): for each layer index named
    /// there, these parameters with that object's keys on top. Null when the file has none.
    /// </summary>
    public IReadOnlyDictionary<int, SomaParameters>? LayerOverrides { get; init; }

    /// <summary>The parameters of layer <paramref name="layer"/>: its override (<see cref="LayerOverrides"/>) or these.</summary>
    public SomaParameters ForLayer(int layer) => LayerOverrides?.GetValueOrDefault(layer) ?? this;

    /// <summary>Gamma for <paramref name="kvHeads"/> kv-heads: the default, one value repeated, or one per kv-head.</summary>
    public float[] GammaFor(int kvHeads) => Expand(Gamma, 0.9f, kvHeads, "gamma", "kv-head");

    /// <summary>Alpha for <paramref name="heads"/> query heads: the default, one value repeated, or one per head.</summary>
    public float[] AlphaFor(int heads) => Expand(Alpha, 0f, heads, "alpha", "head");

    private string In => Source is null ? "" : $" in {Source}";

    private float[] Expand(float[]? values, float fallback, int count, string name, string unit) => values switch
    {
        null => Enumerable.Repeat(fallback, count).ToArray(),
        { Length: 1 } => Enumerable.Repeat(values[0], count).ToArray(),
        _ when values.Length == count => values,
        _ => throw new ArgumentException($"{name} has {values.Length} values; expected 1 or one per {unit} ({count}){In}.", name),
    };

    /// <summary>Each value within what a Soma layer accepts, checked where the file is read so the error can name it.</summary>
    private void CheckRanges(string path)
    {
        void Fail(string what, object value, string expected) =>
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{what} is {value} in {path}; expected {expected}."));

        if (KvCapacity < 1)
        {
            Fail("kv_capacity", KvCapacity, "an integer >= 1");
        }

        for (int i = 0; i < (FullAttentionLayers?.Count ?? 0); i++)
        {
            if (FullAttentionLayers![i] < 0)
            {
                Fail($"full_attention_layers[{i}]", FullAttentionLayers[i], "a layer index >= 0, or \"all\"");
            }
        }

        if (Window is < 1)
        {
            Fail("window", Window.Value, "an integer >= 1");
        }

        for (int i = 0; i < (Gamma?.Length ?? 0); i++)
        {
            if (!(Gamma![i] >= 0f && Gamma[i] < 1f))
            {
                Fail($"gamma[{i}]", Gamma[i], "0 <= gamma < 1");
            }
        }

        for (int i = 0; i < (Alpha?.Length ?? 0); i++)
        {
            if (!float.IsFinite(Alpha![i]))
            {
                Fail($"alpha[{i}]", Alpha[i], "a finite number");
            }
        }

        if (Scale is { } scale && !(scale > 0 && double.IsFinite(scale)))
        {
            Fail("scale", scale, "a finite number > 0, or null for 1/sqrt(head_dim)");
        }
    }

    /// <summary>
    /// <paramref name="p"/> with the keys of <paramref name="options"/> applied (<paramref name="prefix"/> names where they
    /// stand in errors); per-layer objects take only the layer keys.
    /// </summary>
    private static SomaParameters Apply(SomaParameters p, JsonElement options, string path, string prefix)
    {
        bool top = prefix.Length == 0;
        foreach (var entry in options.EnumerateObject())
        {
            try
            {
                p = entry.Name switch
                {
                    "window" => p with { Window = entry.Value.GetInt32() },
                    "include_current" => p with { IncludeCurrent = entry.Value.GetBoolean() },
                    "gamma" => p with { Gamma = Floats(entry.Value) },
                    "alpha" => p with { Alpha = Floats(entry.Value) },
                    "rope" => p with { Rope = entry.Value.GetBoolean() },
                    "scale" => p with { Scale = entry.Value.ValueKind == JsonValueKind.Null ? null : entry.Value.GetDouble() },
                    "full_attention_layers" when top => entry.Value.ValueKind == JsonValueKind.String && entry.Value.GetString() == "all"
                        ? p with { AllFullAttention = true }
                        : p with { FullAttentionLayers = entry.Value.EnumerateArray().Select(v => v.GetInt32()).ToArray() },
                    "kv_capacity" when top => p with { KvCapacity = entry.Value.GetInt32() },
                    "layers" when top => p,
                    _ => throw new InvalidDataException(top
                        ? $"{path}: unknown key '{entry.Name}'; expected window, include_current, gamma, alpha, rope, scale, full_attention_layers, kv_capacity, layers."
                        : $"{path}: unknown key '{prefix}{entry.Name}'; a layer's options are window, include_current, gamma, alpha, rope, scale."),
                };
            }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"{path}: '{prefix}{entry.Name}' has the wrong type ({entry.Value.ValueKind}).", ex);
            }
        }

        return p;
    }

    private static float[] Floats(JsonElement value) => value.ValueKind == JsonValueKind.Array
        ? value.EnumerateArray().Select(v => v.GetSingle()).ToArray()
        : new[] { value.GetSingle() };
}
