using Soma.Internal;
using Soma.IO;

namespace Soma;

/// <summary>
/// A whole decoder (Llama, Qwen2, Mistral) on one accelerator with Soma layers where attention was: embeddings,
/// RMSNorms, SwiGLU MLPs and the LM head run on the device around the attention layers, so a conversation's memory is
/// every layer's fixed Soma state, never a growing KV cache (except in layers the options keep as full attention).
/// Open conversations with <see cref="CreateSession"/> or a <see cref="CreatePool"/>; a call that fails leaves every
/// conversation as it was.
/// </summary>
/// <remarks>
/// Create it with <see cref="SomaEngine.LoadCausalLM"/> (a checkpoint folder) or <see cref="SomaEngine.CreateCausalLM"/>
/// (weights in memory); the weights are uploaded once, in fp32. Calls on one model are serialized. See
/// <see cref="CausalLMWeights"/> for the model's definition.
/// </remarks>
public sealed class SomaCausalLM : IDisposable
{
    private readonly object gate = new();
    private readonly SomaModel model;
    private readonly DecoderWeights weights;
    private readonly DecoderLauncher launcher;
    private int disposed;

    internal SomaCausalLM(SomaEngine engine, CausalLMWeights source, int kvCapacity)
    {
        Engine = engine;
        Config = source.Config;
        _ = engine.Kernels.Decoder; // compiled with the engine's first decoder, before anything is uploaded
        var layers = new List<SomaLayer>();
        try
        {
            foreach (var layer in source.Layers)
            {
                layers.Add(layer.FullAttention
                    ? engine.CreateStandardAttentionLayer(layer.Options, layer.Attention, kvCapacity)
                    : engine.CreateLayer(layer.Options, layer.Attention));
            }

            weights = new DecoderWeights(engine, source);
            launcher = new DecoderLauncher(engine, source, weights);
        }
        catch
        {
            weights?.Dispose();
            layers.ForEach(l => l.Dispose());
            throw;
        }

        model = new SomaModel(engine, layers.ToArray());
    }

    /// <summary>The engine whose accelerator holds the model.</summary>
    public SomaEngine Engine { get; }

    /// <summary>The checkpoint's configuration.</summary>
    public CausalLMConfig Config { get; }

    /// <summary>V: vocabulary size (logits per token).</summary>
    public int VocabSize => Config.VocabSize;

    /// <summary>The attention layers, first to last (Soma layers, or standard attention where the options asked for it).</summary>
    public IReadOnlyList<SomaLayer> Layers => model.Layers;

    /// <summary>Device bytes of one conversation's state across every layer: the same at token 1 and at token 10^6 when every layer is a Soma layer.</summary>
    public long StateBytes => model.StateBytes;

    /// <summary>Bytes the last call downloaded as its result: V floats a row of logits, 4 for a token chosen on the device, k x 8 for a row's top k.</summary>
    internal long LastDownloadBytes => launcher.DownloadBytes;

    /// <summary>Device bytes of the weights outside the attention layers (embedding, norms, MLPs, LM head).</summary>
    public long DecoderWeightBytes => weights.Bytes;

    /// <summary>
    /// The attention layers' part of the last completed call (<see cref="SomaModel.LastCallProfile"/>): launches,
    /// copies and host waits of the layers, not of the embedding, norms, MLPs and LM head around them. Every call keeps
    /// its rows on the device (no uploads or downloads of rows); a call of one pass a layer (every decode step) waits
    /// once, at its end. Null before the first call.
    /// </summary>
    public SomaCallProfile? LastCallProfile => model.LastCallProfile;

    /// <summary>Opens a conversation with its own state in every layer (position 0).</summary>
    public SomaCausalLMSession CreateSession()
    {
        ThrowIfDisposed();
        return new SomaCausalLMSession(this, model.CreateSession());
    }

    /// <summary>
    /// State for <paramref name="capacity"/> conversations allocated up front; conversations opened from one pool can be
    /// decoded together (<see cref="DecodeBatch"/>).
    /// </summary>
    public SomaCausalLMPool CreatePool(int capacity)
    {
        ThrowIfDisposed();
        return new SomaCausalLMPool(this, model.CreatePool(capacity));
    }

    /// <summary>
    /// One token for each conversation in one pass through the model: tokens[b] goes to sessions[b]; logits [B, V] get
    /// row b for sessions[b] (only the first B * V floats are written). Equal to decoding each alone. The sessions must
    /// be distinct, open, of this model and of one pool (<see cref="CreatePool"/>).
    /// </summary>
    public void DecodeBatch(IReadOnlyList<SomaCausalLMSession> sessions, ReadOnlySpan<int> tokens, Span<float> logits)
    {
        ArgumentNullException.ThrowIfNull(sessions);
        CheckTokens(tokens, sessions.Count, nameof(tokens));
        Guard.Output(logits.Length, (long)sessions.Count * VocabSize, $"[B={sessions.Count}, V={VocabSize}]");
        Run(sessions, Ones(sessions.Count), tokens, Ranks(sessions.Count), false, logits, default);
    }

    /// <summary>
    /// <see cref="DecodeBatch"/> with greedy sampling on the device: next[b] = argmax of sessions[b]'s logits (only B
    /// ints travel back).
    /// </summary>
    public void DecodeBatchGreedy(IReadOnlyList<SomaCausalLMSession> sessions, ReadOnlySpan<int> tokens, Span<int> next)
    {
        ArgumentNullException.ThrowIfNull(sessions);
        CheckTokens(tokens, sessions.Count, nameof(tokens));
        if (next.Length < sessions.Count)
        {
            throw new ArgumentException($"next has {next.Length} entries; expected at least B = {sessions.Count}.", nameof(next));
        }

        Run(sessions, Ones(sessions.Count), tokens, Ranks(sessions.Count), true, default, next);
    }

    /// <summary>
    /// Disposes every layer, conversation and pool of the model and frees its weights; waits for the call running on it.
    /// Never throws; a second call does nothing.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        lock (gate)
        {
            model.Dispose();
            launcher.Dispose();
            weights.Dispose();
        }
    }

    /// <summary>Throws <see cref="ObjectDisposedException"/> naming the engine when it is disposed, else this model.</summary>
    internal void ThrowIfDisposed()
    {
        Engine.ThrowIfDisposed();
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
    }

    /// <summary>
    /// Throws unless <paramref name="tokens"/> has exactly <paramref name="count"/> ids (at least one), each in [0, V).
    /// </summary>
    internal void CheckTokens(ReadOnlySpan<int> tokens, int count, string name)
    {
        if (tokens.Length == 0)
        {
            throw new ArgumentException($"{name} is empty; expected at least one token id.", name);
        }

        if (tokens.Length != count)
        {
            throw new ArgumentException($"{name} has {tokens.Length} ids; expected {count}.", name);
        }

        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)VocabSize)
            {
                throw new ArgumentOutOfRangeException(name, tokens[i], $"{name}[{i}] is {tokens[i]}; token ids must lie in [0, {VocabSize}) (vocab_size).");
            }
        }
    }

    /// <summary>
    /// One call: rows[s] tokens for each conversation s (laid out conversation after conversation) through the whole
    /// model; the logits of the rows named by <paramref name="pick"/> go to <paramref name="logits"/> ([picked, V]), or
    /// with <paramref name="argmax"/> their argmax (or with <paramref name="draw"/> a draw on the device) to
    /// <paramref name="next"/>, or with non-empty <paramref name="topValues"/> ([picked, k]) their k largest logits and
    /// their ids to <paramref name="topValues"/> and <paramref name="topIndices"/>. Arguments are checked by the caller.
    /// </summary>
    internal void Run(
        IReadOnlyList<SomaCausalLMSession> sessions, int[] rows, ReadOnlySpan<int> tokens, ReadOnlySpan<int> pick, bool argmax,
        Span<float> logits, Span<int> next, DeviceDraw? draw = null, Span<float> topValues = default, Span<int> topIndices = default)
    {
        ThrowIfDisposed();
        var inner = new SomaModelSession[sessions.Count];
        for (int b = 0; b < sessions.Count; b++)
        {
            inner[b] = sessions[b] is { } s && s.Model == this
                ? s.Inner
                : throw new ArgumentException($"sessions[{b}] is null or belongs to another model.", nameof(sessions));
        }

        model.CheckSessions(inner);
        lock (gate)
        {
            ThrowIfDisposed();
            // Every call keeps its rows on the device and runs on the decoder's stream: a decode step waits once, at its end.
            int top = topValues.Length / Math.Max(pick.Length, 1);
            var (x, y) = launcher.Begin(tokens, pick, argmax || draw is not null, draw, top);
            model.Through(inner, rows, CallIo.Device(x, y), launcher.Stream, default, launcher);
            if (top > 0)
            {
                launcher.TopValues.CopyTo(topValues);
                launcher.TopIndices.CopyTo(topIndices);
            }
            else if (argmax || draw is not null)
            {
                launcher.Best.CopyTo(next);
            }
            else
            {
                launcher.Logits.CopyTo(logits);
            }
        }
    }

    private static int[] Ones(int count) => Enumerable.Repeat(1, count).ToArray();

    private static int[] Ranks(int count) => Enumerable.Range(0, count).ToArray();
}
