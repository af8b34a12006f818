namespace Soma.Internal;

/// <summary>
/// A layer's weights in device memory, in the layout the kernels read: the fused QKV weight row-major [M, D] (the
/// checkpoint's own [out, in] layout, the q, k and v rows stacked; a warp of the decode GEMV streams one row), its
/// bias, W_o [D, H dh] and its bias, gamma, alpha, and the RoPE inverse frequencies in fp64. Owns every buffer it uploads.
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
        var qkv = new ushort[(long)m * d * units];
        Stack(weights, 0, (long)q * d, qkv, 0, WeightType);
        Stack(weights, 1, (long)kv * d, qkv, (long)q * d, WeightType);
        Stack(weights, 2, (long)kv * d, qkv, (long)(q + kv) * d, WeightType);
        var bias = new float[m];
        weights.Bq?.CopyTo(bias, 0);
        weights.Bk?.CopyTo(bias, q);
        weights.Bv?.CopyTo(bias, q + kv);
        var output = new ushort[(long)d * q * units];
        Stack(weights, 3, (long)d * q, output, 0, WeightType);
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
            Qkv = Upload(qkv);
            QkvBias = Upload(bias);
            Out = Upload(output);
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

        Bytes = (qkv.LongLength + output.LongLength) * sizeof(ushort) + (bias.Length + d + options.KvHeads + options.Heads) * sizeof(float)
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

    /// <summary>How <see cref="Qkv"/> and <see cref="Out"/> store the weights.</summary>
    public SomaStorageType WeightType { get; }

    /// <summary>The fused projection's weight [(H + 2 Hkv) dh, D], row-major: rows Wq | Wk | Wv, raw 16-bit units of <see cref="WeightType"/>.</summary>
    public DeviceBuffer<ushort> Qkv { get; } = null!;

    /// <summary>Bias of the fused projection [(H + 2 Hkv) dh] (zeros where the checkpoint has none).</summary>
    public DeviceBuffer<float> QkvBias { get; } = null!;

    /// <summary>W_o [D, H dh], row-major, raw 16-bit units of <see cref="WeightType"/>.</summary>
    public DeviceBuffer<ushort> Out { get; } = null!;

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
    /// Writes projection <paramref name="matrix"/> of <paramref name="weights"/> (<paramref name="count"/> elements,
    /// row-major [out, in] as the checkpoint holds it) into target from element <paramref name="targetOffset"/>, as
    /// <paramref name="type"/> stores it: 16-bit weights of the same type are copied bit for bit, fp32 ones as they are.
    /// </summary>
    private static void Stack(SomaLayerWeights weights, int matrix, long count, ushort[] target, long targetOffset, SomaStorageType type)
    {
        var bits = weights.Bits(matrix);
        if (bits is not null && weights.ProjectionType == type)
        {
            Array.Copy(bits, 0, target, targetOffset, count);
            return;
        }

        var floats = System.Runtime.InteropServices.MemoryMarshal.Cast<ushort, float>(target.AsSpan());
        if (type == SomaStorageType.Float32)
        {
            var plain = weights.Floats(matrix);
            for (long i = 0; i < count; i++)
            {
                floats[checked((int)(targetOffset + i))] = plain is not null ? plain[i] : weights.Stored(matrix, i, type);
            }

            return;
        }

        for (long i = 0; i < count; i++)
        {
            target[targetOffset + i] = StorageTypes.Narrow(weights.Stored(matrix, i, SomaStorageType.Float32), type);
        }
    }
}
