namespace Soma.Internal;

/// <summary>
/// The non-attention weights of a whole decoder in device memory, row-major [out, in] as the checkpoint holds them:
/// the embedding [V, D], the LM head [V, D] (a tied model's head is the embedding buffer itself, no second copy), per
/// layer the two RMSNorm weights, the fused gate|up [2I, D] (gate rows, then up rows) and down [D, I], the final norm
/// and one zero bias. The matrices (embedding, LM head, gate|up, down) are stored as
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
        var embeddingUnits = Encode(model.Embedding, nameof(model.Embedding));
        var headUnits = model.LmHead is null ? null : Encode(model.LmHead, nameof(model.LmHead));
        var mlp = new List<(ushort[] GateUp, ushort[] Down)>();
        for (int l = 0; l < model.Layers.Count; l++)
        {
            var layer = model.Layers[l];
            var gateUp = new float[(long)2 * inter * d];
            layer.Gate.CopyTo(gateUp, 0);
            layer.Up.CopyTo(gateUp, (long)inter * d);
            mlp.Add((Encode(gateUp, $"Layers[{l}].Gate/Up"), Encode(layer.Down, $"Layers[{l}].Down")));
        }

        try
        {
            Embedding = Upload(embeddingUnits);
            Head = headUnits is null ? Embedding : Upload(headUnits);
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

    /// <summary>The embedding [V, D].</summary>
    public DeviceBuffer<ushort> Embedding { get; } = null!;

    /// <summary>LM head [V, D], row-major; the same buffer as <see cref="Embedding"/> when tied (owned once).</summary>
    public DeviceBuffer<ushort> Head { get; } = null!;

    /// <summary>model.norm.weight [D].</summary>
    public DeviceBuffer<float> FinalNorm { get; } = null!;

    /// <summary>Zeros, as long as the widest projection output (the projections have no biases).</summary>
    public DeviceBuffer<float> ZeroBias { get; } = null!;

    /// <summary>Per layer: input norm, post-attention norm, gate|up, down.</summary>
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
    /// <param name="GateUp">[gate; up] [2I, D], row-major, stored as <see cref="Type"/>.</param>
    /// <param name="Down">down [D, I], row-major, stored as <see cref="Type"/>.</param>
    internal sealed record Layer(DeviceBuffer<float> InputNorm, DeviceBuffer<float> PostNorm, DeviceBuffer<ushort> GateUp, DeviceBuffer<ushort> Down);
}
