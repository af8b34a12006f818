namespace Soma.IO;

/// <summary>
/// Exact reads for the file formats Soma parses, with errors that say which file part was cut short. Nothing is
/// allocated for bytes the stream cannot hold: a seekable stream's remaining length is checked first, and a stream
/// that cannot seek is read into buffers that grow only as data arrives.
/// </summary>
internal static class StreamReads
{
    /// <summary>The piece size in which element data is read and converted.</summary>
    private const int Piece = 1 << 20;

    /// <summary>The piece size for streams that cannot seek, whose length is unknown until they end.</summary>
    private const int SmallPiece = 1 << 16;

    /// <summary>Turns the raw little-endian bytes of <c>target.Length</c> elements into values; <paramref name="first"/> is the index of the first.</summary>
    /// <typeparam name="T">The element type produced.</typeparam>
    /// <param name="raw">The elements' bytes.</param>
    /// <param name="target">Where the values go.</param>
    /// <param name="first">Index of <c>target[0]</c> in the whole array (for error messages).</param>
    public delegate void Decoder<T>(ReadOnlySpan<byte> raw, Span<T> target, long first);

    /// <summary>Reads exactly <paramref name="count"/> bytes or throws <see cref="InvalidDataException"/> naming <paramref name="what"/>.</summary>
    public static byte[] Exactly(Stream stream, int count, string source, string what)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (Remaining(stream) is { } left && left < count)
        {
            throw Truncated(source, what, left, count);
        }

        var buffer = new byte[stream.CanSeek ? count : Math.Min(count, SmallPiece)];
        int read = 0;
        while (read < count)
        {
            if (read == buffer.Length)
            {
                Array.Resize(ref buffer, (int)Math.Min(count, 2L * buffer.Length));
            }

            int n = stream.Read(buffer, read, buffer.Length - read);
            if (n == 0)
            {
                throw Truncated(source, what, read, count);
            }

            read += n;
        }

        return buffer;
    }

    /// <summary>
    /// Reads <paramref name="count"/> elements of <paramref name="itemSize"/> bytes each, converting them piece by
    /// piece with <paramref name="decode"/>: the only allocations are the result and one piece buffer. Throws
    /// <see cref="InvalidDataException"/> when the stream holds fewer bytes (checked before allocating where the
    /// stream can seek) or when <paramref name="count"/> exceeds one array.
    /// </summary>
    public static T[] Elements<T>(Stream stream, long count, int itemSize, Decoder<T> decode, string source, string what)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(itemSize);
        long bytes = count <= long.MaxValue / itemSize
            ? count * itemSize
            : throw new InvalidDataException($"{source}: {what} needs more than {long.MaxValue} bytes.");
        if (Remaining(stream) is { } left && left < bytes)
        {
            throw Truncated(source, what, left, bytes);
        }

        if (count > Array.MaxLength)
        {
            throw new InvalidDataException($"{source}: {what} holds more than the {Array.MaxLength} elements one array can hold.");
        }

        // A stream that cannot seek may end anywhere: its pieces are small and the result grows as they arrive.
        int piece = stream.CanSeek ? Piece : SmallPiece;
        var buffer = new byte[(int)Math.Min(bytes, piece / itemSize * itemSize)];
        var values = new T[stream.CanSeek ? count : Math.Min(count, buffer.Length / itemSize)];
        long done = 0;
        while (done < count)
        {
            int n = (int)Math.Min(count - done, buffer.Length / itemSize);
            var raw = buffer.AsSpan(0, n * itemSize);
            int filled = Fill(stream, raw);
            if (filled < raw.Length)
            {
                throw Truncated(source, what, done * itemSize + filled, bytes);
            }

            if (done + n > values.Length)
            {
                Array.Resize(ref values, (int)Math.Min(count, Math.Max(2L * values.Length, done + n)));
            }

            decode(raw, values.AsSpan((int)done, n), done);
            done += n;
        }

        return values;
    }

    /// <summary>The bytes left after the stream's position, or null when it cannot seek.</summary>
    public static long? Remaining(Stream stream) => stream.CanSeek ? Math.Max(0, stream.Length - stream.Position) : null;

    private static int Fill(Stream stream, Span<byte> buffer)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = stream.Read(buffer[read..]);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        return read;
    }

    private static InvalidDataException Truncated(string source, string what, long read, long count) =>
        new($"{source} is truncated: it ends inside {what} ({read} of {count} bytes).");
}
