namespace Soma.Internal;

/// <summary>The checks on the sessions of a batch call, made before the call claims them.</summary>
internal static class BatchCheck
{
    /// <summary>Batches up to this size find repeated sessions by comparing pairs, allocating nothing.</summary>
    private const int PairwiseLimit = 64;

    /// <summary>
    /// Throws unless <paramref name="sessions"/> holds at least one session, each open, of <paramref name="layer"/>,
    /// of one pool, and none twice; the exception names the first offending index.
    /// </summary>
    /// <param name="layer">The layer the batch runs through.</param>
    /// <param name="sessions">The batch.</param>
    public static void Sessions(SomaLayer layer, IReadOnlyList<SomaSession> sessions)
    {
        ArgumentNullException.ThrowIfNull(sessions);
        if (sessions.Count == 0)
        {
            throw new ArgumentException("sessions is empty; expected at least one session.", nameof(sessions));
        }

        var pool = sessions[0].Pool;
        var seen = sessions.Count > PairwiseLimit ? new HashSet<SomaSession>() : null;
        for (int b = 0; b < sessions.Count; b++)
        {
            var s = sessions[b] ?? throw new ArgumentNullException(nameof(sessions), $"sessions[{b}] is null.");
            s.ThrowIfDisposed();
            if (s.Layer != layer)
            {
                throw new ArgumentException($"sessions[{b}] belongs to another layer.", nameof(sessions));
            }

            if (s.Pool != pool)
            {
                throw new ArgumentException(
                    $"sessions[{b}] comes from another pool; sessions batched together must share one pool.", nameof(sessions));
            }

            if (seen is not null ? !seen.Add(s) : SeenBefore(sessions, b))
            {
                throw new ArgumentException($"sessions[{b}] appears twice; a batch holds each session once.", nameof(sessions));
            }
        }
    }

    /// <summary>Whether sessions[<paramref name="b"/>] appears at an earlier index.</summary>
    private static bool SeenBefore(IReadOnlyList<SomaSession> sessions, int b)
    {
        for (int j = 0; j < b; j++)
        {
            if (ReferenceEquals(sessions[j], sessions[b]))
            {
                return true;
            }
        }

        return false;
    }
}
