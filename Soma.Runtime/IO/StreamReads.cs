namespace Soma.IO;

/// <summary>Exact reads for the file formats Soma parses, with errors that say which file part was cut short.</summary>
internal static class StreamReads
{
    /// <summary>Reads exactly <paramref name="count"/> bytes or throws <see cref="InvalidDataException"/> naming <paramref name="what"/>.</summary>
    public static byte[] Exactly(Stream stream, int count, string source, string what)
    {
        var buffer = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = stream.Read(buffer, read, count - read);
            if (n == 0)
            {
                throw new InvalidDataException($"{source} is truncated: it ended inside {what} ({read} of {count} bytes).");
            }

            read += n;
        }

        return buffer;
    }
}
