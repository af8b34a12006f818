namespace Soma.Internal;

/// <summary>
/// What a pass's launch decisions depend on, and so what <see cref="PlanCache"/> keys its plans by: rows, segments,
/// the longest window a row attends over (capped at the ring) and the ring rows each segment commits.
/// </summary>
/// <param name="Tokens">Rows of the pass.</param>
/// <param name="Segments">Sessions (segments) in the pass.</param>
/// <param name="MaxKeys">Most ring keys a row of the pass attends over: min(W, first + rows) over its segments.</param>
/// <param name="CommitRows">Ring rows the commit writes per segment: min(W, most rows of a segment).</param>
internal readonly record struct PlanKey(int Tokens, int Segments, int MaxKeys, int CommitRows)
{
    /// <summary>
    /// Whether every segment of the pass has one row (a decode pass: every segment has at least one): its QKV epilogue
    /// then computes the RoPE angles and takes the field's step, so the pass launches neither the table nor the scan.
    /// </summary>
    public bool Decode => Tokens == Segments;

    /// <summary>The key of <paramref name="pass"/> on a ring of <paramref name="ringWindow"/> slots.</summary>
    public static PlanKey Of(PassPlan pass, int ringWindow)
    {
        long maxKeys = 0;
        int maxRows = 0;
        for (int s = 0; s < pass.Rows.Length; s++)
        {
            maxKeys = Math.Max(maxKeys, pass.First[s] + pass.Rows[s]);
            maxRows = Math.Max(maxRows, pass.Rows[s]);
        }

        return new PlanKey(pass.Tokens, pass.Rows.Length, (int)Math.Min(ringWindow, maxKeys), Math.Min(ringWindow, maxRows));
    }
}
