using ILGPU;
using ILGPU.Runtime;
using Microsoft.Extensions.Logging;
using Soma.Internal;

namespace Soma;

// What an engine creates: Soma layers, standard-attention layers, chained models and whole decoders, each owning its device memory.
public sealed partial class SomaEngine
{
    /// <summary>
    /// Uploads a layer's weights to this accelerator. <paramref name="weights"/> are validated against
    /// <paramref name="options"/> first; nothing is allocated when they do not fit.
    /// </summary>
    public SomaLayer CreateLayer(SomaLayerOptions options, SomaLayerWeights weights)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(weights);
        weights.Validate(options);
        return Track(new SomaLayer(this, options, weights));
    }

    /// <summary>
    /// The standard-attention baseline: the same projections and attention kernels as Soma, but every session keeps a
    /// KV cache of <paramref name="kvCapacity"/> tokens and attends causally over all of them (no window, no field;
    /// gamma and alpha are ignored). Decode cost and memory grow with history; a session that would exceed the
    /// capacity gets <see cref="InvalidOperationException"/>. <see cref="SomaLayerOptions.Window"/> is not used.
    /// </summary>
    public SomaLayer CreateStandardAttentionLayer(SomaLayerOptions options, SomaLayerWeights weights, int kvCapacity)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(weights);
        Guard.Positive(kvCapacity, nameof(kvCapacity));
        if ((long)kvCapacity * options.KvHeads * options.HeadDim > int.MaxValue / 4)
        {
            throw new ArgumentOutOfRangeException(nameof(kvCapacity), kvCapacity, "kvCapacity * Hkv * dh must stay below 2^29 elements.");
        }

        weights.Validate(options);
        return Track(new SomaLayer(this, options, weights, kvCapacity));
    }

    /// <summary>
    /// A stack of layers, one per weight set, all of shape <paramref name="options"/>: each is validated before any
    /// is uploaded. See <see cref="SomaModel"/>.
    /// </summary>
    public SomaModel CreateModel(SomaLayerOptions options, IReadOnlyList<SomaLayerWeights> layers)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Count == 0)
        {
            throw new ArgumentException("layers is empty; expected at least one weight set.", nameof(layers));
        }

        for (int l = 0; l < layers.Count; l++)
        {
            (layers[l] ?? throw new ArgumentNullException(nameof(layers), $"layers[{l}] is null.")).Validate(options);
        }

        var created = new List<SomaLayer>();
        try
        {
            foreach (var weights in layers)
            {
                created.Add(CreateLayer(options, weights));
            }
        }
        catch
        {
            created.ForEach(l => l.Dispose());
            throw;
        }

        Log.ModelCreated(LayerLogger, created.Count);
        return new SomaModel(this, created.ToArray());
    }

    /// <summary>
    /// Loads a whole decoder from a Hugging Face checkpoint folder (Llama, Qwen2, Mistral; see
    /// <see cref="CausalLMWeights.Load"/>) with Soma layers where attention was, parameterised by
    /// <paramref name="soma"/> (default: <see cref="IO.SomaParameters"/>' defaults). Every tensor is read and checked
    /// before anything is uploaded.
    /// </summary>
    public SomaCausalLM LoadCausalLM(string folder, IO.SomaParameters? soma = null)
    {
        ThrowIfDisposed();
        soma ??= new IO.SomaParameters();
        return CreateCausalLM(CausalLMWeights.Load(folder, soma), soma.KvCapacity);
    }

    /// <summary>
    /// Uploads a whole decoder from weights in memory; <paramref name="kvCapacity"/> is the KV cache of its
    /// full-attention layers, in tokens per conversation. The weights are validated first; nothing is allocated when they
    /// do not fit.
    /// </summary>
    public SomaCausalLM CreateCausalLM(CausalLMWeights weights, int kvCapacity = IO.SomaParameters.DefaultKvCapacity)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(weights);
        Guard.Positive(kvCapacity, nameof(kvCapacity));
        weights.Validate();
        return Track(new SomaCausalLM(this, weights, kvCapacity));
    }
}
