namespace Soma.Internal;

/// <summary>Claims every session of a call for that call, or none, and releases them when it ends.</summary>
internal static class SessionClaims
{
    /// <summary>
    /// Claims every session (after checking each is open), layer by layer, or none: when one is already in use or
    /// disposed, those claimed so far are released and the exception propagates. Allocates nothing.
    /// </summary>
    /// <param name="sessions">The call's sessions.</param>
    public static void ClaimAll(CallSessions sessions)
    {
        int claimed = 0;
        try
        {
            for (int l = 0; l < sessions.Layers; l++)
            {
                var list = sessions[l];
                for (int s = 0; s < list.Count; s++)
                {
                    list[s].ThrowIfDisposed();
                    list[s].Claim();
                    claimed++;
                }
            }
        }
        catch
        {
            ReleaseAll(sessions, claimed);
            throw;
        }
    }

    /// <summary>Releases the first <paramref name="count"/> sessions (all by default) in <see cref="ClaimAll"/>'s order.</summary>
    /// <param name="sessions">The call's sessions.</param>
    /// <param name="count">How many were claimed.</param>
    public static void ReleaseAll(CallSessions sessions, int count = int.MaxValue)
    {
        for (int l = 0; l < sessions.Layers; l++)
        {
            var list = sessions[l];
            for (int s = 0; s < list.Count && count > 0; s++, count--)
            {
                list[s].Release();
            }
        }
    }
}
