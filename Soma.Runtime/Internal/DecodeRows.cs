namespace Soma.Internal;

/// <summary>
/// The row counts of a decode batch (one row per session), kept for the last batch size so that a steady decode
/// loop allocates none. Safe across threads: the array is never changed after it is published.
/// </summary>
internal sealed class DecodeRows
{
    private int[] ones = Array.Empty<int>();

    /// <summary>An array of <paramref name="count"/> ones.</summary>
    /// <param name="count">Sessions in the batch.</param>
    public int[] For(int count)
    {
        var cached = Volatile.Read(ref ones);
        if (cached.Length != count)
        {
            cached = new int[count];
            Array.Fill(cached, 1);
            Volatile.Write(ref ones, cached);
        }

        return cached;
    }
}
