namespace Soma;

/// <summary>What a call did, as <see cref="SomaCallProfile.Kind"/> reports it.</summary>
public enum SomaCallKind
{
    /// <summary>One token for every session of the call (a decode step, single or batched).</summary>
    Decode,

    /// <summary>Any other call: some session took several tokens (or none).</summary>
    Prefill,
}
