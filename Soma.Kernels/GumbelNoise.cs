using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// Counter-based Gumbel noise for sampling on the device: argmax(logits / T + g) with g = -log(-log(u)) is a draw from
/// softmax(logits / T) (the Gumbel-max trick). u is a hash of (seed, step, column), so a draw needs no generator state
/// and the same seed and step give the same token on every device.
/// </summary>
internal static class GumbelNoise
{
    /// <summary>The Gumbel(0, 1) value of column <paramref name="column"/> at draw <paramref name="step"/> of <paramref name="seed"/>.</summary>
    public static float Of(long seed, long step, int column)
    {
        ulong z = Mix((ulong)seed ^ Mix((ulong)step + 0x9E3779B97F4A7C15UL) ^ ((ulong)(uint)column * 0xD1B54A32D192ED03UL));
        float u = ((z >> 40) + 0.5f) * (1f / 16777216f); // 24 bits, in (0, 1)
        return -XMath.Log(-XMath.Log(u));
    }

    /// <summary>SplitMix64's finaliser.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
