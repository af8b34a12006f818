using ILGPU;

namespace Soma.Kernels;

/// <summary>
/// Greedy sampling on the device: the index of each row's largest logit, so decode downloads one int, not V floats;
/// with <c>noise</c> the largest of logits * scale + Gumbel noise (<see cref="GumbelNoise"/>, draw step + row), a draw
/// from softmax(logits * scale), still one int.
/// </summary>
internal static class Argmax
{
    // index[t] = min argmax_c logits[t, c] (first of equal maxima; NaN never wins), with noise != 0 of logits[t, c] * scale + Gumbel(seed, step + t, c);
    // launch: one group per row (grid-stride), dynamic shared memory of 2 x group-size floats.
    public static void Kernel(ArrayView<float> logits, ArrayView<int> index, int rows, int width, float scale, long seed, long step, int noise)
    {
        var shared = SharedMemory.GetDynamic<float>();
        for (int t = Grid.IdxX; t < rows; t += Grid.DimX)
        {
            float best = float.NegativeInfinity;
            int at = -1;
            for (int c = Group.IdxX; c < width; c += Group.DimX)
            {
                float v = logits[t * width + c];
                if (noise != 0)
                {
                    v = v * scale + GumbelNoise.Of(seed, step + t, c);
                }

                if (v > best || (at < 0 && v == best))
                {
                    best = v;
                    at = c;
                }
            }

            shared[Group.IdxX] = best;
            shared[Group.DimX + Group.IdxX] = Interop.IntAsFloat((uint)at);
            Group.Barrier();
            if (Group.IdxX == 0)
            {
                float max = float.NegativeInfinity;
                int found = -1;
                for (int i = 0; i < Group.DimX; i++)
                {
                    int candidate = (int)Interop.FloatAsInt(shared[Group.DimX + i]);
                    float v = shared[i];
                    if (candidate >= 0 && (found < 0 || v > max || (v == max && candidate < found)))
                    {
                        max = v;
                        found = candidate;
                    }
                }

                index[t] = found < 0 ? 0 : found;
            }

            Group.Barrier();
        }
    }
}
