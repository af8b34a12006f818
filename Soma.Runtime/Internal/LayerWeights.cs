namespace Soma.Internal;

/// <summary>
/// A layer's weights in device memory, in the layout the kernels read: W^T of the fused QKV projection (so that
/// consecutive threads, one per output column, read consecutive addresses), its bias, W_o^T and its bias, gamma,
/// alpha, and the RoPE inverse frequencies in fp64. Owns every buffer it uploads.
/// </summary>
internal sealed class LayerWeights : IDisposable
{
    private readonly List<IDisposable> owned = new();

    /// <summary>Uploads <paramref name="weights"/> for a layer of shape <paramref name="options"/> and waits for the copies.</summary>
    /// <param name="engine">The engine whose accelerator receives the weights.</param>
    /// <param name="options">The layer's shape.</param>
    /// <param name="weights">The weights in the public (row-major, [out, in]) layout.</param>
    public LayerWeights(SomaEngine engine, SomaLayerOptions options, SomaLayerWeights weights)
    {
        int d = options.ModelDim;
        int dh = options.HeadDim;
        int q = options.Heads * dh;
        int kv = options.KvHeads * dh;
        int m = q + 2 * kv;

        WeightType = options.WeightStorage ?? weights.ProjectionType;
        int units = StorageTypes.Units(WeightType);
        var qkvT = new ushort[(long)d * m * units];
        Transpose(weights, 0, q, d, qkvT, m, 0, WeightType);
        Transpose(weights, 1, kv, d, qkvT, m, q, WeightType);
        Transpose(weights, 2, kv, d, qkvT, m, q + kv, WeightType);
        var bias = new float[m];
        weights.Bq?.CopyTo(bias, 0);
        weights.Bk?.CopyTo(bias, q);
        weights.Bv?.CopyTo(bias, q + kv);
        var outT = new ushort[(long)q * d * units];
        Transpose(weights, 3, d, q, outT, d, 0, WeightType);
        int half = Math.Max(1, dh / 2);
        var inv = new double[half];
        if (options.RopeTheta is { } theta)
        {
            for (int j = 0; j < half; j++)
            {
                inv[j] = Math.Pow(theta, -2.0 * j / dh);
            }
        }

        var stream = engine.Accelerator.DefaultStream;
        try
        {
            QkvT = Upload(qkvT);
            QkvBias = Upload(bias);
            OutT = Upload(outT);
            OutBias = Upload(weights.Bo ?? new float[d]);
            Gamma = Upload(weights.Gamma);
            Alpha = Upload(weights.Alpha);
            InverseFrequencies = Upload(inv);
            stream.Synchronize();
        }
        catch
        {
            Dispose();
            throw;
        }

        Bytes = (qkvT.LongLength + outT.LongLength) * sizeof(ushort) + (bias.Length + d + options.KvHeads + options.Heads) * sizeof(float)
            + (long)half * sizeof(double);

        DeviceBuffer<T> Upload<T>(T[] data)
            where T : unmanaged
        {
            var buffer = engine.Allocate<T>(data.Length);
            owned.Add(buffer);
            buffer.Upload(stream, data);
            return buffer;
        }
    }

    /// <summary>How <see cref="QkvT"/> and <see cref="OutT"/> store the weights.</summary>
    public SomaStorageType WeightType { get; }

    /// <summary>W^T of the fused projection [D, (H + 2 Hkv) dh]: columns Q | K | V, raw 16-bit units of <see cref="WeightType"/>.</summary>
    public DeviceBuffer<ushort> QkvT { get; } = null!;

    /// <summary>Bias of the fused projection [(H + 2 Hkv) dh] (zeros where the checkpoint has none).</summary>
    public DeviceBuffer<float> QkvBias { get; } = null!;

    /// <summary>W_o^T [H dh, D], raw 16-bit units of <see cref="WeightType"/>.</summary>
    public DeviceBuffer<ushort> OutT { get; } = null!;

    /// <summary>Output bias [D] (zeros where the checkpoint has none).</summary>
    public DeviceBuffer<float> OutBias { get; } = null!;

    /// <summary>Field decay per kv head [Hkv].</summary>
    public DeviceBuffer<float> Gamma { get; } = null!;

    /// <summary>Far-field weight per query head [H].</summary>
    public DeviceBuffer<float> Alpha { get; } = null!;

    /// <summary>RoPE inverse frequencies theta^(-2j/dh) [max(1, dh/2)] in fp64 (zeros without RoPE).</summary>
    public DeviceBuffer<double> InverseFrequencies { get; } = null!;

    /// <summary>Bytes uploaded (for the layer's log line).</summary>
    public long Bytes { get; }

    /// <summary>Frees every weight buffer. Never throws; a second call does nothing.</summary>
    public void Dispose()
    {
        foreach (var buffer in owned)
        {
            buffer.Dispose();
        }

        owned.Clear();
    }

    /// <summary>
    /// Writes projection <paramref name="matrix"/> of <paramref name="weights"/> ([rows, cols]) transposed into target's
    /// columns from <paramref name="targetOffset"/> (target has <paramref name="targetCols"/> columns), as
    /// <paramref name="type"/> stores it: 16-bit weights of the same type are copied bit for bit.
    /// </summary>
    private static void Transpose(
        SomaLayerWeights weights, int matrix, int rows, int cols, ushort[] target, int targetCols, int targetOffset, SomaStorageType type)
    {
        var bits = weights.Bits(matrix);
        bool copy = bits is not null && weights.ProjectionType == type;
        var plain = type == SomaStorageType.Float32 ? weights.Floats(matrix) : null;
        var floats = System.Runtime.InteropServices.MemoryMarshal.Cast<ushort, float>(target.AsSpan());
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                long e = (long)c * targetCols + targetOffset + r;
                long i = (long)r * cols + c;
                if (copy)
                {
                    target[e] = bits![i];
                }
                else if (plain is not null)
                {
                    floats[checked((int)e)] = plain[i];
                }
                else if (type == SomaStorageType.Float32)
                {
                    floats[checked((int)e)] = weights.Stored(matrix, i, type);
                }
                else
                {
                    target[e] = StorageTypes.Narrow(weights.Stored(matrix, i, SomaStorageType.Float32), type);
                }
            }
        }
    }

    /// <summary>Writes source [rows, cols] transposed into target's columns from <paramref name="targetOffset"/> (target has <paramref name="targetCols"/> columns): fp32 weights of the whole-model decoder.</summary>
    internal static void Transpose(float[] source, int rows, int cols, float[] target, int targetCols, int targetOffset)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                target[(long)c * targetCols + targetOffset + r] = source[(long)r * cols + c];
            }
        }
    }
}
