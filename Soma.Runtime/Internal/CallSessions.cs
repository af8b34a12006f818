namespace Soma.Internal;

/// <summary>
/// The sessions of a call, per layer, without allocating: one list for a layer call (the caller's own), or one list
/// per layer for a model call. Session s of layer l is <c>this[l][s]</c>.
/// </summary>
internal readonly struct CallSessions
{
    private readonly IReadOnlyList<SomaSession>? single;
    private readonly IReadOnlyList<IReadOnlyList<SomaSession>>? perLayer;

    /// <summary>The sessions of a call through one layer.</summary>
    /// <param name="sessions">The call's sessions.</param>
    public CallSessions(IReadOnlyList<SomaSession> sessions) => single = sessions;

    /// <summary>The sessions of a call through several layers.</summary>
    /// <param name="sessions">For each layer, the call's sessions of that layer.</param>
    public CallSessions(IReadOnlyList<IReadOnlyList<SomaSession>> sessions) => perLayer = sessions;

    /// <summary>Layers the call goes through.</summary>
    public int Layers => perLayer?.Count ?? 1;

    /// <summary>The call's sessions of layer <paramref name="layer"/>.</summary>
    /// <param name="layer">Index of the layer in the call.</param>
    public IReadOnlyList<SomaSession> this[int layer] => perLayer is { } all ? all[layer] : single!;
}
