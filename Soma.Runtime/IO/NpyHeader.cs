using System.Buffers.Binary;
using System.Text;

namespace Soma.IO;

/// <summary>
/// A .npy header, read as untrusted input: magic, version 1.0, 2.0 or 3.0, a header length of at most 1 MiB that
/// ends in a newline, and a Python dict literal with exactly the keys 'descr' (a little-endian float16/32/64 or
/// int32/64 type string), 'fortran_order' (False) and 'shape' (a tuple of non-negative integers whose element and
/// byte counts fit in 64 bits). Anything else is an <see cref="InvalidDataException"/> that says what was found.
/// </summary>
/// <param name="Descr">The dtype string, e.g. '&lt;f4'.</param>
/// <param name="Type">The element type it names.</param>
/// <param name="Shape">The dimensions (C order).</param>
/// <param name="Count">Product of the dimensions.</param>
internal sealed record NpyHeader(string Descr, ElementType Type, long[] Shape, long Count)
{
    /// <summary>The largest header length read (NumPy writes a few hundred bytes).</summary>
    public const int MaxHeaderBytes = 1 << 20;

    private static readonly byte[] Magic = { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' };

    private static readonly Dictionary<string, ElementType> Types = new()
    {
        ["<f4"] = ElementType.F32, ["<f2"] = ElementType.F16, ["<f8"] = ElementType.F64,
        ["<i4"] = ElementType.I32, ["<i8"] = ElementType.I64,
    };

    /// <summary>The shape as NumPy prints it: (3, 4), (5,) or ().</summary>
    public string ShapeText => Shape.Length == 1 ? $"({Shape[0]},)" : $"({string.Join(", ", Shape)})";

    /// <summary>Bytes of data the shape and dtype call for (fits in a long: checked when read).</summary>
    public long DataBytes => Count * ElementDecoding.Size(Type);

    /// <summary>The .npy magic, then version 1.0 and a header of <paramref name="header"/> padded to 64 bytes with spaces and a newline.</summary>
    public static byte[] Prefix(string header)
    {
        int unpadded = Magic.Length + 2 + 2 + header.Length + 1;
        string padded = header + new string(' ', (64 - unpadded % 64) % 64) + "\n";
        var bytes = new byte[Magic.Length + 4 + padded.Length];
        Magic.CopyTo(bytes, 0);
        bytes[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), checked((ushort)padded.Length));
        Encoding.Latin1.GetBytes(padded).CopyTo(bytes, 10);
        return bytes;
    }

    /// <summary>Reads and checks the header at the start of <paramref name="stream"/>, leaving it at the data.</summary>
    public static NpyHeader Read(Stream stream)
    {
        var prefix = ReadExactly(stream, 8, "the .npy magic and version");
        if (!prefix.AsSpan(0, 6).SequenceEqual(Magic))
        {
            throw new InvalidDataException("Not a .npy file: it does not start with \\x93NUMPY.");
        }

        int major = prefix[6], minor = prefix[7];
        if (major is not (1 or 2 or 3) || minor != 0)
        {
            throw new InvalidDataException($".npy version {major}.{minor} is not supported; expected 1.0, 2.0 or 3.0.");
        }

        long length = major == 1
            ? BinaryPrimitives.ReadUInt16LittleEndian(ReadExactly(stream, 2, "the header length"))
            : BinaryPrimitives.ReadUInt32LittleEndian(ReadExactly(stream, 4, "the header length"));
        if (length > MaxHeaderBytes)
        {
            throw new InvalidDataException($"The .npy header length is {length} bytes; more than {MaxHeaderBytes} is not a real header.");
        }

        // Version 3 headers are UTF-8; 1 and 2 are Latin-1. Either way the dict literal read below is ASCII.
        var bytes = ReadExactly(stream, (int)length, "the header");
        string text = major == 3 ? Encoding.UTF8.GetString(bytes) : Encoding.Latin1.GetString(bytes);
        if (!text.EndsWith('\n'))
        {
            throw new InvalidDataException($"The .npy header ({length} bytes by its length field) does not end in a newline: {Shown(text)}");
        }

        return Parse(text);
    }

    /// <summary>Parses the header's dict literal and checks its keys, dtype, order and shape.</summary>
    public static NpyHeader Parse(string text)
    {
        var fields = new DictLiteral(text).Parse();
        if (fields.Count != 3 || !fields.ContainsKey("descr") || !fields.ContainsKey("fortran_order") || !fields.ContainsKey("shape"))
        {
            throw new InvalidDataException(
                $"The .npy header has keys {{{string.Join(", ", fields.Keys.Select(k => $"'{k}'"))}}}; expected exactly 'descr', 'fortran_order' and 'shape': {Shown(text)}");
        }

        if (fields["descr"] is not string descr)
        {
            throw new InvalidDataException($"The .npy header's 'descr' is not a dtype string (a structured dtype is not read): {Shown(text)}");
        }

        if (fields["fortran_order"] is not bool fortran)
        {
            throw new InvalidDataException($"The .npy header's 'fortran_order' is not True or False: {Shown(text)}");
        }

        if (fields["shape"] is not long[] shape)
        {
            throw new InvalidDataException($"The .npy header's 'shape' is not a tuple of dimensions: {Shown(text)}");
        }

        if (fortran)
        {
            throw new InvalidDataException("The .npy array is in Fortran order; only C order is read (use numpy.ascontiguousarray).");
        }

        if (!Types.TryGetValue(descr, out var type))
        {
            throw new InvalidDataException(descr.Length == 3 && descr[0] == '>' && Types.ContainsKey("<" + descr[1..])
                ? $"The .npy dtype '{descr}' is big-endian; only little-endian data is read (use array.astype('<{descr[1..]}'))."
                : $"The .npy dtype '{descr}' is not supported; expected one of {string.Join(", ", Types.Keys.Select(k => $"'{k}'"))}.");
        }

        long count = 1;
        foreach (long d in shape)
        {
            if (d != 0 && count > long.MaxValue / ElementDecoding.Size(type) / d)
            {
                string dims = string.Join(", ", shape);
                throw new InvalidDataException($"The .npy shape ({dims}) holds more than {long.MaxValue} bytes of '{descr}'.");
            }

            count *= d;
        }

        return new NpyHeader(descr, type, shape, count);
    }

    /// <summary>The header for an error message: one line, control characters escaped, at most 200 characters.</summary>
    private static string Shown(string text) => Escaped(text.Length <= 200 ? text.TrimEnd() : text[..200] + "...");

    private static string Escaped(string text) => string.Concat(text.Select(c => char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString()));

    private static byte[] ReadExactly(Stream stream, int count, string what) =>
        StreamReads.Exactly(stream, count, "The .npy file", what);

    /// <summary>
    /// The subset of Python literal syntax NumPy writes in a header: one dict of quoted-string keys whose values are
    /// quoted strings, True/False or tuples of decimal integers; spaces, tabs and newlines between tokens, a trailing
    /// comma allowed. A key given twice, leading zeros (a syntax error in Python 3) or anything else is an error.
    /// </summary>
    private sealed class DictLiteral(string text)
    {
        private int at;

        public Dictionary<string, object> Parse()
        {
            var fields = new Dictionary<string, object>();
            Expect('{');
            while (Peek() != '}')
            {
                string key = Quoted();
                if (fields.ContainsKey(key))
                {
                    throw Error($"names '{key}' twice");
                }

                Expect(':');
                fields[key] = Peek() switch
                {
                    '\'' or '"' => Quoted(),
                    '(' => Tuple(),
                    _ => Bool(),
                };
                if (Peek() != ',')
                {
                    break;
                }

                at++;
            }

            Expect('}');
            _ = Peek();
            if (at < text.Length)
            {
                throw Error($"has '{text[at]}' after the closing brace");
            }

            return fields;
        }

        private char Peek()
        {
            while (at < text.Length && text[at] is ' ' or '\t' or '\n' or '\r')
            {
                at++;
            }

            return at < text.Length ? text[at] : '\0';
        }

        private void Expect(char c)
        {
            if (Peek() != c)
            {
                throw Error($"has {Found()} where '{c}' belongs");
            }

            at++;
        }

        private string Quoted()
        {
            char quote = Peek();
            if (quote is not ('\'' or '"'))
            {
                throw Error($"has {Found()} where a quoted key belongs");
            }

            int end = text.IndexOf(quote, at + 1);
            if (end < 0 || text.AsSpan(at + 1, end - at - 1).IndexOfAny('\\', '\n') >= 0)
            {
                throw Error("has an unterminated or escaped string");
            }

            string value = text[(at + 1)..end];
            at = end + 1;
            return value;
        }

        private bool Bool()
        {
            var rest = text.AsSpan(at);
            bool value = rest.StartsWith("True") ? true
                : rest.StartsWith("False") ? false
                : throw Error($"has {Found()} where a string, True, False or a tuple belongs");
            at += value ? 4 : 5;
            if (at < text.Length && char.IsAsciiLetterOrDigit(text[at]))
            {
                throw Error($"has '{text[(at - (value ? 4 : 5))..(at + 1)]}...', not True or False");
            }

            return value;
        }

        private long[] Tuple()
        {
            Expect('(');
            var items = new List<long>();
            bool comma = false;
            while (Peek() != ')')
            {
                int start = at;
                while (at < text.Length && text[at] is not (',' or ')' or ' ' or '\t' or '\n' or '\r'))
                {
                    at++;
                }

                string item = text[start..at];
                if (item.Length == 0 || !item.All(char.IsAsciiDigit) || (item.Length > 1 && item[0] == '0')
                    || !long.TryParse(item, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long d))
                {
                    throw new InvalidDataException($"The .npy shape holds '{item}', not a dimension (a non-negative integer below 2^63): {Shown(text)}");
                }

                items.Add(d);
                comma = Peek() == ',';
                if (!comma)
                {
                    break;
                }

                at++;
            }

            Expect(')');
            if (items.Count == 1 && !comma)
            {
                throw Error($"has ({items[0]}), a number rather than a tuple (a 1-D shape is written ({items[0]},))");
            }

            return items.ToArray();
        }

        private string Found() => at < text.Length ? $"'{Escaped(text[at].ToString())}' at {at}" : "the end";

        private InvalidDataException Error(string what) => new($"The .npy header {what}: {Shown(text)}");
    }
}
