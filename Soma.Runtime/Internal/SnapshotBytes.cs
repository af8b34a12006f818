using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Soma.Internal;

/// <summary>
/// Byte-level snapshot IO: arrays of fp32/fp64 values as little-endian bytes through a running SHA-256, exact reads
/// into the caller's buffer (never more memory than that buffer), and the check that nothing follows a snapshot.
/// </summary>
internal static class SnapshotBytes
{
    private const int ChunkBytes = 64 * 1024;

    /// <summary>Appends the little-endian bytes of <paramref name="values"/> to <paramref name="hash"/>.</summary>
    public static void Append<T>(IncrementalHash hash, ReadOnlySpan<T> values)
        where T : unmanaged => ForEachChunk(values, chunk => hash.AppendData(chunk));

    /// <summary>Writes the little-endian bytes of <paramref name="values"/> to <paramref name="stream"/> and the hash.</summary>
    public static void Write<T>(Stream stream, IncrementalHash hash, ReadOnlySpan<T> values)
        where T : unmanaged => ForEachChunk(values, chunk =>
        {
            hash.AppendData(chunk);
            stream.Write(chunk);
        });

    /// <summary>Fills <paramref name="values"/> from little-endian bytes of the stream, hashing them.</summary>
    public static void Read<T>(Stream stream, IncrementalHash hash, Span<T> values, string what)
        where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values);
        ReadExactly(stream, bytes, what);
        hash.AppendData(bytes);
        if (!BitConverter.IsLittleEndian)
        {
            Reverse(bytes, System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        }
    }

    /// <summary>Fills <paramref name="buffer"/> or throws <see cref="InvalidDataException"/> naming <paramref name="what"/>.</summary>
    public static void ReadExactly(Stream stream, Span<byte> buffer, string what)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = stream.Read(buffer[read..]);
            if (n == 0)
            {
                throw new InvalidDataException($"The snapshot is truncated: it ended inside {what} ({read} of {buffer.Length} bytes).");
            }

            read += n;
        }
    }

    /// <summary>Throws unless the stream has nothing left: a snapshot is the whole stream.</summary>
    public static void ExpectEnd(Stream stream)
    {
        Span<byte> one = stackalloc byte[1];
        if (stream.Read(one) != 0)
        {
            throw new InvalidDataException(
                "The stream goes on after the snapshot's checksum; a snapshot must be the whole stream " +
                "(a model's snapshot loads only into a model session of as many layers).");
        }
    }

    private static void ForEachChunk<T>(ReadOnlySpan<T> values, Action<ReadOnlySpan<byte>> consume)
        where T : unmanaged
    {
        var bytes = MemoryMarshal.AsBytes(values);
        if (BitConverter.IsLittleEndian)
        {
            consume(bytes);
            return;
        }

        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        var chunk = new byte[ChunkBytes];
        for (int at = 0; at < bytes.Length; at += ChunkBytes)
        {
            var part = chunk.AsSpan(0, Math.Min(ChunkBytes, bytes.Length - at));
            bytes.Slice(at, part.Length).CopyTo(part);
            Reverse(part, size);
            consume(part);
        }
    }

    private static void Reverse(Span<byte> bytes, int size)
    {
        for (int i = 0; i < bytes.Length; i += size)
        {
            bytes.Slice(i, size).Reverse();
        }
    }
}
