namespace Soma.Internal;

/// <summary>
/// The non-attention weights of a whole decoder in device memory, in the layout the kernels read: the LM head
/// transposed (W^T [D, V], so the projection kernel serves it; a tied model's embedding lookup gathers from it too),
/// the embedding [V, D] when untied, per layer the two RMSNorm weights, the fused gate|up W^T [D, 2I] and down W^T
/// [I, D], the final norm and one zero bias. The matrices (embedding, LM head, gate|up, down) are stored as
/// <see cref="Type"/> (raw units: fp32 as two 16-bit units an element, a 16-bit type as its bit patterns) and read
/// through its element view; the norms stay fp32. Owns every buffer it uploads; uploaded once.
/// </summary>
internal sealed class DecoderWeights : IDisposable
{
    private readonly OwnedBuffers owned = new();

    /// <summary>Uploads the non-attention weights of <paramref name="model"/> and waits for the copies.</summary>
    public DecoderWeights(SomaEngine engine, CausalLMWeights model)
    {
        int d = model.ModelDim, v = model.VocabSize, inter = model.Config.IntermediateSize;
        Type = model.Layers[0].Options.WeightStorage ?? model.ProjectionType;
        var stream = engine.Accelerator.DefaultStream;

        // Every matrix is encoded on the host before the first allocation, so a weight fp16 cannot hold loads nothing.
        var headT = new float[(long)d * v];
        LayerWeights.Transpose(model.Head, v, d, headT, v, 0);
        var headUnits = Encode(headT, "LmHead");
        var embeddingUnits = model.LmHead is null ? null : Encode(model.Embedding, nameof(model.Embedding));
        var mlp = new List<(ushort[] GateUp, ushort[] Down)>();
        for (int l = 0; l < model.Layers.Count; l++)
        {
            var layer = model.Layers[l];
            var gateUpT = new float[(long)d * 2 * inter];
            LayerWeights.Transpose(layer.Gate, inter, d, gateUpT, 2 * inter, 0);
            LayerWeights.Transpose(layer.Up, inter, d, gateUpT, 2 * inter, inter);
            var downT = new float[(long)inter * d];
            LayerWeights.Transpose(layer.Down, d, inter, downT, d, 0);
            mlp.Add((Encode(gateUpT, $"Layers[{l}].Gate/Up"), Encode(downT, $"Layers[{l}].Down")));
        }

        try
        {
            HeadT = Upload(headUnits);
            Embedding = embeddingUnits is null ? null : Upload(embeddingUnits);
            FinalNorm = Upload(model.FinalNorm);
            ZeroBias = Upload(new float[Math.Max(Math.Max(2 * inter, d), v)]);
            for (int l = 0; l < model.Layers.Count; l++)
            {
                var layer = model.Layers[l];
                Layers.Add(new Layer(Upload(layer.InputNorm), Upload(layer.PostAttentionNorm), Upload(mlp[l].GateUp), Upload(mlp[l].Down)));
            }

            stream.Synchronize();
        }
        catch
        {
            Dispose();
            throw;
        }

        DeviceBuffer<T> Upload<T>(T[] data)
            where T : unmanaged
        {
            var buffer = owned.Own(engine.Allocate<T>(data.LongLength));
            buffer.Upload(stream, data);
            Bytes += buffer.Bytes;
            return buffer;
        }
    }

    /// <summary>
    /// How the matrices are stored: the first layer's <see cref="SomaLayerOptions.WeightStorage"/> where the options
    /// name one, else the checkpoint's type (<see cref="CausalLMWeights.ProjectionType"/>), the layers' rule.
    /// </summary>
    public SomaStorageType Type { get; }

    /// <summary>LM head W^T [D, V] (the embedding's transpose when tied).</summary>
    public DeviceBuffer<ushort> HeadT { get; } = null!;

    /// <summary>The embedding [V, D], or null when tied (the lookup gathers from <see cref="HeadT"/>).</summary>
    public DeviceBuffer<ushort>? Embedding { get; }

    /// <summary>model.norm.weight [D].</summary>
    public DeviceBuffer<float> FinalNorm { get; } = null!;

    /// <summary>Zeros, as long as the widest projection output (the projections have no biases).</summary>
    public DeviceBuffer<float> ZeroBias { get; } = null!;

    /// <summary>Per layer: input norm, post-attention norm, gate|up W^T, down W^T.</summary>
    public List<Layer> Layers { get; } = new();

    /// <summary>Device bytes uploaded.</summary>
    public long Bytes { get; private set; }

    /// <summary>Frees every buffer. Never throws; a second call does nothing.</summary>
    public void Dispose() => owned.Dispose();

    /// <summary>
    /// <paramref name="values"/> as <see cref="Type"/> stores them (exact when the checkpoint held that type: its values
    /// were widened exactly); a value the type cannot hold (fp16 past ±65504) is an <see cref="ArgumentException"/>.
    /// </summary>
    private ushort[] Encode(float[] values, string name)
    {
        var units = new ushort[values.LongLength * (Type == SomaStorageType.Float32 ? 2 : 1)];
        StorageTypes.Encode(values, units, Type);
        if (Type == SomaStorageType.Float16)
        {
            int bad = Array.FindIndex(units, u => (u & 0x7C00) == 0x7C00);
            if (bad >= 0)
            {
                throw new ArgumentException(
                    $"{name} holds {values[bad]}, beyond fp16's range (±65504): WeightStorage Float16 cannot hold it; store the weights as BFloat16 or Float32.", "weights");
            }
        }

        return units;
    }

    /// <summary>One layer's non-attention weights.</summary>
    /// <param name="InputNorm">input_layernorm [D].</param>
    /// <param name="PostNorm">post_attention_layernorm [D].</param>
    /// <param name="GateUpT">[gate; up]^T [D, 2I], stored as <see cref="Type"/>.</param>
    /// <param name="DownT">down^T [I, D], stored as <see cref="Type"/>.</param>
    internal sealed record Layer(DeviceBuffer<float> InputNorm, DeviceBuffer<float> PostNorm, DeviceBuffer<ushort> GateUpT, DeviceBuffer<ushort> DownT);
}
