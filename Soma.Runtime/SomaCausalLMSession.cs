using Soma.Internal;

namespace Soma;

/// <summary>
/// One conversation with a <see cref="SomaCausalLM"/>: a session in every attention layer, advanced together. Feed it
/// token ids with <see cref="Prefill(ReadOnlySpan{int}, Span{float})"/> and <see cref="Decode(int, Span{float})"/>; get
/// logits or, with the greedy forms, the next token chosen on the device. Bad token ids, an empty prompt or a short
/// output throw before anything changes; a call that fails leaves the conversation as it was.
/// </summary>
public sealed class SomaCausalLMSession : IDisposable
{
    internal SomaCausalLMSession(SomaCausalLM model, SomaModelSession inner)
    {
        Model = model;
        Inner = inner;
    }

    /// <summary>The model.</summary>
    public SomaCausalLM Model { get; }

    /// <summary>Tokens consumed so far (the next token's position).</summary>
    public long Position => Inner.Position;

    /// <summary>Device bytes of this conversation's state across every layer.</summary>
    public long StateBytes => Inner.StateBytes;

    internal SomaModelSession Inner { get; }

    private float[] scratch = [];

    private float[] Scratch() => scratch.Length == Model.VocabSize ? scratch : scratch = new float[Model.VocabSize];

    /// <summary>Runs the prompt <paramref name="tokens"/> and returns the logits of every token, [n, V].</summary>
    public float[] Prefill(ReadOnlySpan<int> tokens)
    {
        var logits = new float[(long)tokens.Length * Model.VocabSize];
        Prefill(tokens, logits);
        return logits;
    }

    /// <summary>
    /// Runs the prompt <paramref name="tokens"/> (n &gt;= 1 ids in [0, V)) and writes the logits of every token into
    /// <paramref name="logits"/> [n, V] (at least n * V floats; only those are written). Equal to n decode steps.
    /// </summary>
    public void Prefill(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        Model.CheckTokens(tokens, tokens.Length, nameof(tokens));
        Guard.Output(logits.Length, (long)tokens.Length * Model.VocabSize, $"[n={tokens.Length}, V={Model.VocabSize}]");
        var pick = new int[tokens.Length];
        for (int i = 0; i < pick.Length; i++)
        {
            pick[i] = i;
        }

        Model.Run(new[] { this }, new[] { tokens.Length }, tokens, pick, false, logits, default);
    }

    /// <summary>
    /// Runs the prompt and writes only the last token's logits [V] (what generation needs; the LM head runs on that row
    /// only).
    /// </summary>
    public void PrefillLast(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        Model.CheckTokens(tokens, tokens.Length, nameof(tokens));
        Guard.Output(logits.Length, Model.VocabSize, $"[V={Model.VocabSize}]");
        Model.Run(new[] { this }, new[] { tokens.Length }, tokens, new[] { tokens.Length - 1 }, false, logits, default);
    }

    /// <summary>Runs the prompt and returns the argmax of the last token's logits, computed on the device.</summary>
    public int PrefillGreedy(ReadOnlySpan<int> tokens) => PrefillOnDevice(tokens, null);

    /// <summary>One token; returns its logits [V].</summary>
    public float[] Decode(int token)
    {
        var logits = new float[Model.VocabSize];
        Decode(token, logits);
        return logits;
    }

    /// <summary>One token (an id in [0, V)); writes its logits into the first V floats of <paramref name="logits"/>.</summary>
    public void Decode(int token, Span<float> logits)
    {
        ReadOnlySpan<int> tokens = [token];
        Model.CheckTokens(tokens, 1, nameof(token));
        Guard.Output(logits.Length, Model.VocabSize, $"[V={Model.VocabSize}]");
        Model.Run(new[] { this }, [1], tokens, [0], false, logits, default);
    }

    /// <summary>One token; returns the argmax of its logits, computed on the device (one int travels back).</summary>
    public int DecodeGreedy(int token) => DecodeOnDevice(token, null);

    /// <summary>
    /// Runs the prompt and returns the next token as <paramref name="sampler"/> picks it: greedy on the device (one int
    /// travels back); temperature without top-k and top-p also on the device (Gumbel-max with noise from the sampler's
    /// seed and draw count: one int travels back); with top-k the device selects the k best and the sampler draws among
    /// them (k (value, id) pairs travel back); with top-p alone from the last token's logits (V floats).
    /// </summary>
    public int PrefillNext(ReadOnlySpan<int> tokens, SomaSampler sampler)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        if (sampler.Options.Greedy || sampler.DrawsOnDevice)
        {
            return PrefillOnDevice(tokens, sampler.DrawsOnDevice ? sampler.NextDraw() : null);
        }

        if (sampler.Options.TopK > 0)
        {
            Model.CheckTokens(tokens, tokens.Length, nameof(tokens));
            return DrawFromTop(tokens, tokens.Length - 1, sampler);
        }

        PrefillLast(tokens, Scratch());
        return sampler.Sample(scratch);
    }

    /// <summary>One token; returns the next as <paramref name="sampler"/> picks it (see <see cref="PrefillNext"/>).</summary>
    public int DecodeNext(int token, SomaSampler sampler)
    {
        ArgumentNullException.ThrowIfNull(sampler);
        if (sampler.Options.Greedy || sampler.DrawsOnDevice)
        {
            return DecodeOnDevice(token, sampler.DrawsOnDevice ? sampler.NextDraw() : null);
        }

        if (sampler.Options.TopK > 0)
        {
            ReadOnlySpan<int> tokens = [token];
            Model.CheckTokens(tokens, 1, nameof(token));
            return DrawFromTop(tokens, 0, sampler);
        }

        Decode(token, Scratch());
        return sampler.Sample(scratch);
    }

    /// <summary>
    /// Runs <paramref name="tokens"/>; the device selects row <paramref name="last"/>'s top-k logits (k (value, id)
    /// pairs travel back) and <paramref name="sampler"/> draws among them (temperature, then top-p): the token the
    /// sampler would draw from all V logits.
    /// </summary>
    private int DrawFromTop(ReadOnlySpan<int> tokens, int last, SomaSampler sampler)
    {
        int k = Math.Min(sampler.Options.TopK, Model.VocabSize);
        var values = new float[k];
        var ids = new int[k];
        Model.Run(new[] { this }, new[] { tokens.Length }, tokens, new[] { last }, false, default, default, null, values, ids);
        return ids[sampler.Sample(values)];
    }

    /// <summary>Runs the prompt; the next token is its last row's argmax, or <paramref name="draw"/>, chosen on the device.</summary>
    private int PrefillOnDevice(ReadOnlySpan<int> tokens, DeviceDraw? draw)
    {
        Model.CheckTokens(tokens, tokens.Length, nameof(tokens));
        Span<int> next = stackalloc int[1];
        Model.Run(new[] { this }, new[] { tokens.Length }, tokens, new[] { tokens.Length - 1 }, true, default, next, draw);
        return next[0];
    }

    /// <summary>One token; the next is its argmax, or <paramref name="draw"/>, chosen on the device.</summary>
    private int DecodeOnDevice(int token, DeviceDraw? draw)
    {
        ReadOnlySpan<int> tokens = [token];
        Model.CheckTokens(tokens, 1, nameof(token));
        Span<int> next = stackalloc int[1];
        Model.Run(new[] { this }, [1], tokens, [0], true, default, next, draw);
        return next[0];
    }

    /// <summary>
    /// Writes the whole conversation's state (every layer) as one versioned, checksummed model snapshot
    /// (<see cref="SomaModelSession.SaveState"/>); its size does not grow with the conversation when every layer is a
    /// Soma layer.
    /// </summary>
    public void SaveState(Stream stream) => Inner.SaveState(stream);

    /// <summary>Replaces the conversation's state with a snapshot from <see cref="SaveState"/>; a bad snapshot changes nothing.</summary>
    public void LoadState(Stream stream) => Inner.LoadState(stream);

    /// <summary>Forgets every token (position 0).</summary>
    public void Reset() => Inner.Reset();

    /// <summary>Returns the conversation's slots (see <see cref="SomaModelSession.Dispose"/>). Never throws.</summary>
    public void Dispose() => Inner.Dispose();
}
