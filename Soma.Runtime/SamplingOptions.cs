namespace Soma;

/// <summary>
/// How <see cref="SomaSampler"/> picks the next token from logits: greedy (temperature 0), or a draw from
/// softmax(logits / temperature) restricted to the top-k tokens and then to the smallest set whose probability reaches
/// top-p (Hugging Face's order), from a generator seeded with <see cref="Seed"/>. A causal LM session draws
/// temperature-only tokens on the device (Gumbel-max, noise hashed from <see cref="Seed"/> and the draw count) and with
/// top-k selects the k best on the device (see <see cref="SomaCausalLMSession.PrefillNext"/>). Validated when constructed.
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Creates and validates sampling options.</summary>
    /// <param name="temperature">0 for greedy (argmax), else &gt; 0.</param>
    /// <param name="topK">Keep the k most likely tokens (0: all).</param>
    /// <param name="topP">Keep the most likely tokens up to this cumulative probability, in (0, 1] (1: all).</param>
    /// <param name="seed">Seed of the draw.</param>
    public SamplingOptions(double temperature = 0, int topK = 0, double topP = 1.0, int seed = 0)
    {
        if (!(temperature >= 0 && double.IsFinite(temperature)))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be finite and >= 0 (0: greedy).");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(topK);
        if (!(topP > 0 && topP <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(topP), topP, "topP must lie in (0, 1].");
        }

        (Temperature, TopK, TopP, Seed) = (temperature, topK, topP, seed);
    }

    /// <summary>0: greedy; else the softmax temperature.</summary>
    public double Temperature { get; }

    /// <summary>Tokens kept by top-k (0: all).</summary>
    public int TopK { get; }

    /// <summary>Cumulative probability kept by top-p (1: all).</summary>
    public double TopP { get; }

    /// <summary>Seed of the draw.</summary>
    public int Seed { get; }

    /// <summary>True when the choice is the argmax (temperature 0), which the device computes without downloading logits.</summary>
    public bool Greedy => Temperature == 0;
}
