namespace Soma.Internal;

/// <summary>
/// The non-attention weights of a whole decoder in device memory, in the layout the kernels read: the LM head
/// transposed (W^T [D, V], so the projection kernel serves it; a tied model's embedding lookup gathers from it too),
/// the embedding [V, D] when untied, per layer the two RMSNorm weights, the fused gate|up W^T [D, 2I] and down W^T
/// [I, D], the final norm and one zero bias. Owns every buffer it uploads; uploaded once.
/// </summary>
internal sealed class DecoderWeights : IDisposable
{
    private readonly OwnedBuffers owned = new();

    /// <summary>Uploads the non-attention weights of <paramref name="model"/> and waits for the copies.</summary>
    public DecoderWeights(SomaEngine engine, CausalLMWeights model)
    {
        int d = model.ModelDim, v = model.VocabSize, inter = model.Config.IntermediateSize;
        var stream = engine.Accelerator.DefaultStream;
        try
        {
            var headT = new float[(long)d * v];
            LayerWeights.Transpose(model.Head, v, d, headT, v, 0);
            HeadT = Upload(headT);
            Embedding = model.LmHead is null ? null : Upload(model.Embedding);
            FinalNorm = Upload(model.FinalNorm);
            ZeroBias = Upload(new float[Math.Max(Math.Max(2 * inter, d), v)]);
            foreach (var layer in model.Layers)
            {
                var gateUpT = new float[(long)d * 2 * inter];
                LayerWeights.Transpose(layer.Gate, inter, d, gateUpT, 2 * inter, 0);
                LayerWeights.Transpose(layer.Up, inter, d, gateUpT, 2 * inter, inter);
                var downT = new float[(long)inter * d];
                LayerWeights.Transpose(layer.Down, d, inter, downT, d, 0);
                Layers.Add(new Layer(Upload(layer.InputNorm), Upload(layer.PostAttentionNorm), Upload(gateUpT), Upload(downT)));
            }

            stream.Synchronize();
        }
        catch
        {
            Dispose();
            throw;
        }

        DeviceBuffer<float> Upload(float[] data)
        {
            var buffer = owned.Own(engine.Allocate<float>(data.LongLength));
            buffer.Upload(stream, data);
            Bytes += buffer.Bytes;
            return buffer;
        }
    }

    /// <summary>LM head W^T [D, V] (the embedding's transpose when tied).</summary>
    public DeviceBuffer<float> HeadT { get; } = null!;

    /// <summary>The embedding [V, D], or null when tied (the lookup gathers from <see cref="HeadT"/>).</summary>
    public DeviceBuffer<float>? Embedding { get; }

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

    /// <summary>One layer's non-attention weights.</summary>
    /// <param name="InputNorm">input_layernorm [D].</param>
    /// <param name="PostNorm">post_attention_layernorm [D].</param>
    /// <param name="GateUpT">[gate; up]^T [D, 2I].</param>
    /// <param name="DownT">down^T [I, D].</param>
    internal sealed record Layer(DeviceBuffer<float> InputNorm, DeviceBuffer<float> PostNorm, DeviceBuffer<float> GateUpT, DeviceBuffer<float> DownT);
}
