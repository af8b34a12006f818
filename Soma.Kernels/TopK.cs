using ILGPU;

namespace Soma.Kernels;

/// <summary>
/// Top-k selection on the device: each row's k largest logits with their indices, largest first (equal values in
/// index order; NaN never chosen), so a top-k draw downloads k (value, index) pairs, not V floats.
/// </summary>
internal static class TopK
{
    // values[t, j], index[t, j] = the j-th of row t in (value descending, index ascending) order; past the valid values -inf and 0.
    // launch: one group per row (grid-stride), dynamic shared memory of 2 x group-size + 2 floats. k passes over the row.
    public static void Kernel(ArrayView<float> logits, ArrayView<float> values, ArrayView<int> index, int rows, int width, int k)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int n = Group.DimX;
        for (int t = Grid.IdxX; t < rows; t += Grid.DimX)
        {
            float prevValue = float.PositiveInfinity;
            int prevIndex = -1;
            for (int j = 0; j < k; j++)
            {
                float best = float.NegativeInfinity;
                int at = -1;
                for (int c = Group.IdxX; c < width; c += n)
                {
                    float v = logits[t * width + c];
                    bool after = prevIndex < 0 || v < prevValue || (v == prevValue && c > prevIndex);
                    if (after && (v > best || (at < 0 && v == best)))
                    {
                        best = v;
                        at = c;
                    }
                }

                shared[Group.IdxX] = best;
                shared[n + Group.IdxX] = Interop.IntAsFloat((uint)at);
                Group.Barrier();
                if (Group.IdxX == 0)
                {
                    float max = float.NegativeInfinity;
                    int found = -1;
                    for (int i = 0; i < n; i++)
                    {
                        int candidate = (int)Interop.FloatAsInt(shared[n + i]);
                        float v = shared[i];
                        if (candidate >= 0 && (found < 0 || v > max || (v == max && candidate < found)))
                        {
                            max = v;
                            found = candidate;
                        }
                    }

                    values[t * k + j] = found < 0 ? float.NegativeInfinity : max;
                    index[t * k + j] = found < 0 ? 0 : found;
                    shared[2 * n] = found < 0 ? float.NegativeInfinity : max;
                    shared[2 * n + 1] = Interop.IntAsFloat((uint)(found < 0 ? int.MaxValue : found));
                }

                Group.Barrier();
                prevValue = shared[2 * n];
                prevIndex = (int)Interop.FloatAsInt(shared[2 * n + 1]);
                Group.Barrier();
            }
        }
    }
}
