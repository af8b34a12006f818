using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Soma.Internal;

/// <summary>
/// The identity a snapshot records of its layer: a SHA-256 of the weights as the layer uploads them, computed once
/// when the layer is created (one pass over the host arrays; about 1.5 GB/s where OpenSSL hashes at that rate).
/// </summary>
internal static class LayerIdentity
{
    /// <summary>Hex digits of a hash shown in error messages.</summary>
    public const int ShownDigits = 12;

    /// <summary>
    /// Lower-case hex SHA-256 of "soma-layer-weights/1" and, in order, Wq, Wk, Wv, Wo, Gamma, Alpha, Bq, Bk, Bv, Bo,
    /// each as a u64 element count and its little-endian fp32 values; the projections as the layer stores them
    /// (<see cref="SomaLayerOptions.WeightStorage"/>, widened exactly to fp32), so fp32 layers hash as before. A missing bias is hashed as the zeros the layer
    /// uploads for it, so a null bias and a zero bias are the same layer.
    /// </summary>
    public static string Sha256(SomaLayerWeights weights, SomaLayerOptions options)
    {
        int q = options.Heads * options.HeadDim;
        int kv = options.KvHeads * options.HeadDim;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData("soma-layer-weights/1"u8);
        Span<byte> count = stackalloc byte[sizeof(ulong)];
        var type = options.WeightStorage ?? weights.ProjectionType;
        for (int m = 0; m < 4; m++)
        {
            long length = weights.Bits(m)?.LongLength ?? weights.Floats(m)!.LongLength;
            BinaryPrimitives.WriteUInt64LittleEndian(count, (ulong)length);
            hash.AppendData(count);
            if (type == SomaStorageType.Float32 && weights.Floats(m) is { } plain)
            {
                SnapshotBytes.Append(hash, plain.AsSpan());
                continue;
            }

            var chunk = new float[(int)Math.Min(length, 1 << 16)];
            for (long i = 0; i < length; i += chunk.Length)
            {
                int take = (int)Math.Min(chunk.Length, length - i);
                for (int j = 0; j < take; j++)
                {
                    chunk[j] = weights.Stored(m, i + j, type);
                }

                SnapshotBytes.Append(hash, chunk.AsSpan(0, take));
            }
        }

        foreach (var (values, length) in new (float[]? Values, int Length)[]
        {
            (weights.Gamma, weights.Gamma.Length), (weights.Alpha, weights.Alpha.Length),
            (weights.Bq, q), (weights.Bk, kv), (weights.Bv, kv), (weights.Bo, options.ModelDim),
        })
        {
            BinaryPrimitives.WriteUInt64LittleEndian(count, (ulong)length);
            hash.AppendData(count);
            if (values is null)
            {
                AppendZeros(hash, (long)length * sizeof(float));
            }
            else
            {
                SnapshotBytes.Append(hash, values.AsSpan());
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>The first <see cref="ShownDigits"/> hex digits of a hash, for messages.</summary>
    public static string Short(string sha256) => sha256.Length > ShownDigits ? sha256[..ShownDigits] + "…" : sha256;

    private static void AppendZeros(IncrementalHash hash, long bytes)
    {
        Span<byte> zeros = stackalloc byte[1024];
        zeros.Clear();
        for (; bytes > 0; bytes -= zeros.Length)
        {
            hash.AppendData(zeros[..(int)Math.Min(bytes, zeros.Length)]);
        }
    }
}
