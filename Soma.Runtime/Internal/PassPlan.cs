namespace Soma.Internal;

/// <summary>
/// One device pass of a call: consecutive rows of x (from <see cref="Offset"/>, <see cref="Tokens"/> rows) in one
/// segment per session, each with its slot, row count and first absolute position.
/// </summary>
internal sealed record PassPlan(int[] Slots, int[] Rows, long[] First, int Offset, int Tokens)
{
    /// <summary>
    /// Cuts a call into passes of at most <paramref name="cap"/> rows, taking the sessions' rows in order: each pass is
    /// a contiguous slice of x, and a session split across passes appears once in each.
    /// </summary>
    /// <param name="slots">Each session's state slot.</param>
    /// <param name="rows">Rows of x for each session (laid out session after session).</param>
    /// <param name="positions">Each session's position before the call.</param>
    /// <param name="cap">Most rows per pass.</param>
    public static List<PassPlan> Split(ReadOnlySpan<int> slots, int[] rows, ReadOnlySpan<long> positions, int cap)
    {
        var passes = new List<PassPlan>();
        int total = rows.Sum();
        int next = 0;
        int used = 0;
        for (int offset = 0; offset < total;)
        {
            var passSlots = new List<int>();
            var passRows = new List<int>();
            var passFirst = new List<long>();
            int n = 0;
            while (n < cap && next < slots.Length)
            {
                int take = Math.Min(rows[next] - used, cap - n);
                if (take > 0)
                {
                    passSlots.Add(slots[next]);
                    passRows.Add(take);
                    passFirst.Add(positions[next] + used);
                    n += take;
                    used += take;
                }

                if (used == rows[next])
                {
                    next++;
                    used = 0;
                }
            }

            passes.Add(new PassPlan(passSlots.ToArray(), passRows.ToArray(), passFirst.ToArray(), offset, n));
            offset += n;
        }

        return passes;
    }
}
