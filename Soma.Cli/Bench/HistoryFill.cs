using Soma;

namespace Soma.Cli.Bench;

/// <summary>
/// Puts a session at a given history without running the prefix: random ring (or KV cache) rows and field at
/// position n. A decode step's cost depends only on the state's shape and position, not on how it was reached.
/// </summary>
internal static class HistoryFill
{
    /// <summary>Fills <paramref name="session"/> with random state at position <paramref name="history"/>.</summary>
    public static void Fill(SomaSession session, long history, int seed)
    {
        var o = session.Layer.Options;
        int channels = o.KvHeads * o.HeadDim;
        long ringRows = session.Layer.KvCapacity ?? o.Window;
        var rng = new Random(seed);
        var ringK = Random(rng, ringRows * channels);
        var ringV = Random(rng, ringRows * channels);
        var field = Array.ConvertAll(Random(rng, channels), v => (double)v);
        session.UploadState(ringK, ringV, field, history);
    }

    /// <summary>Fills every layer of <paramref name="sequence"/> with random state at position <paramref name="history"/>.</summary>
    public static void Fill(SomaModelSession sequence, long history, int seed)
    {
        for (int l = 0; l < sequence.Sessions.Length; l++)
        {
            Fill(sequence.Sessions[l], history, seed * 31 + l);
        }
    }

    private static float[] Random(Random rng, long length)
    {
        var a = new float[length];
        for (long i = 0; i < a.Length; i++)
        {
            a[i] = (float)(rng.NextDouble() * 2 - 1);
        }

        return a;
    }
}
