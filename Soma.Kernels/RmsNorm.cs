using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>RMSNorm over the rows of the residual stream, in fp32 as Hugging Face computes it.</summary>
internal static class RmsNorm
{
    // y[t, c] = x[t, c] / sqrt(mean_c(x[t]^2) + eps) * w[c]; launch: one group per row (grid-stride), dynamic shared memory of group-size floats.
    public static void Kernel(ArrayView<float> x, ArrayView<float> weight, ArrayView<float> y, int rows, int width, float eps)
    {
        var partial = SharedMemory.GetDynamic<float>();
        for (int t = Grid.IdxX; t < rows; t += Grid.DimX)
        {
            float sum = 0f;
            for (int c = Group.IdxX; c < width; c += Group.DimX)
            {
                float v = x[t * width + c];
                sum += v * v;
            }

            partial[Group.IdxX] = sum;
            Group.Barrier();
            if (Group.IdxX == 0)
            {
                float total = 0f;
                for (int i = 0; i < Group.DimX; i++)
                {
                    total += partial[i];
                }

                partial[0] = XMath.Rsqrt(total / width + eps);
            }

            Group.Barrier();
            float inv = partial[0];
            for (int c = Group.IdxX; c < width; c += Group.DimX)
            {
                y[t * width + c] = x[t * width + c] * inv * weight[c];
            }

            Group.Barrier();
        }
    }
}
