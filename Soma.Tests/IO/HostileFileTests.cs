using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Soma.IO;

namespace Soma.Tests.IO;

/// <summary>
/// .npy and .safetensors files whose headers lie (lengths, shapes, offsets, dtypes, versions), flipped byte by byte
/// and edited at random (fixed seeds): each is an <see cref="InvalidDataException"/> naming the file, or, where the
/// edit still describes the data exactly, a correct read; and no read allocates more than the file can hold.
/// </summary>
public sealed class HostileFileTests : IDisposable
{
    /// <summary>What a read may allocate beyond the file's own size (stream buffers, header text, messages).</summary>
    private const long Slack = 64 << 10;

    private readonly string folder = Directory.CreateTempSubdirectory("soma-hostile-").FullName;

    [Fact]
    public void Npy_EveryHeaderByteFlipped_IsAClearError_WithinTheFilesSize()
    {
        var valid = new MemoryStream();
        NpyFile.Write(valid, Enumerable.Range(0, 12).Select(i => i * 0.5f + 1f).ToArray(), 3, 4);
        var good = valid.ToArray();
        int dataStart = 10 + BinaryPrimitives.ReadUInt16LittleEndian(good.AsSpan(8));
        string path = Path.Combine(folder, "flip.npy");
        int cases = 0;

        for (int at = 0; at < dataStart; at++)
        {
            foreach (byte mask in new byte[] { 1, 2, 4, 8, 16, 32, 64, 128, 0xFF })
            {
                var bytes = (byte[])good.Clone();
                bytes[at] ^= mask;
                File.WriteAllBytes(path, bytes);

                var (error, allocated) = Measure(() => NpyFile.Read(path));

                error.Should().BeOfType<InvalidDataException>($"byte {at} ^ 0x{mask:X2} makes the header lie")
                    .Which.Message.Should().StartWith(path + ": ");
                allocated.Should().BeLessThan(bytes.Length + Slack, $"byte {at} ^ 0x{mask:X2}");
                cases++;
            }
        }

        cases.Should().Be(dataStart * 9);
    }

    [Fact]
    public void Npy_RandomHeaderEdits_AreClearErrorsOrExactReads_WithinTheFilesSize()
    {
        var random = new Random(20261130);
        string[] descrs = { "<f4", "<f2", "<f8", "<i4", "<i8", ">f4", "|u1", "<f16", "", "<f4'", "=f4" };
        string[] dims = { "0", "1", "2", "3", "7", "536870911", "500000000", "2147483648", "4611686018427387904", "99999999999999999999", "-1", "x", "03", "" };
        string path = Path.Combine(folder, "edit.npy");
        int read = 0, rejected = 0;

        for (int i = 0; i < 400; i++)
        {
            string descr = descrs[random.Next(descrs.Length)];
            string fortran = random.Next(8) == 0 ? "True" : random.Next(8) == 0 ? "Fals" : "False";
            var shapeDims = Enumerable.Range(0, random.Next(4)).Select(_ => random.Next(3) == 0 ? dims[random.Next(dims.Length)] : random.Next(1, 5).ToString(CultureInfo.InvariantCulture)).ToArray();
            string shape = shapeDims.Length == 1 && random.Next(4) > 0 ? $"({shapeDims[0]},)" : $"({string.Join(", ", shapeDims)})";
            string extra = random.Next(10) == 0 ? "'extra': 1, " : "";
            string header = $"{{'descr': '{descr}', {extra}'fortran_order': {fortran}, 'shape': {shape}, }}" + new string(' ', random.Next(4)) + "\n";
            int size = descr switch { "<f2" => 2, "<f8" or "<i8" => 8, _ => 4 };
            var data = new byte[random.Next(5) == 0 ? random.Next(0, 80) : size * Count(shapeDims)];
            random.NextBytes(data);
            int major = random.Next(1, 4);
            long? lengthField = random.Next(6) switch
            {
                0 => 1L << 31,
                1 => random.Next(0, 70_000),
                2 => header.Length + random.Next(-3, 4),
                _ => null,
            };
            var bytes = NpyWriter.Raw(header, data, major, lengthField);
            File.WriteAllBytes(path, bytes);

            var (error, allocated) = Measure(() => NpyFile.Read(path));

            string what = $"edit {i}: v{major} length {lengthField?.ToString(CultureInfo.InvariantCulture) ?? "true"}, {header.TrimEnd()} with {data.Length} data bytes";
            if (error is null)
            {
                // It read: then the header told the truth (a float type, C order, a shape whose bytes are exactly the data).
                var result = NpyFile.Read(path);
                long count = result.Shape.Aggregate(1L, (a, b) => a * b);
                result.Data.Length.Should().Be((int)count, what);
                (count * (descr == "<f2" ? 2 : descr == "<f8" ? 8 : 4)).Should().Be(data.Length, what);
                allocated.Should().BeLessThan((4 * count) + bytes.Length + Slack, what);
                read++;
            }
            else
            {
                error.Should().BeOfType<InvalidDataException>(what).Which.Message.Should().StartWith(path + ": ", what);
                allocated.Should().BeLessThan(bytes.Length + Slack, what);
                rejected++;
            }
        }

        (read, rejected).Should().Match<(int Read, int Rejected)>(r => r.Read >= 10 && r.Rejected >= 200, "the edits cover both outcomes");
    }

    [Theory]
    [InlineData("v2 header length 2^31", "*header length is 2147483648 bytes*")]
    [InlineData("536870911 floats in 160 bytes", "*truncated*of 2147483644 bytes)*")]
    [InlineData("500 million floats, 20 present", "*truncated*(20 of 2000000000 bytes)*")]
    [InlineData("2^59 float64s", "*truncated*(16 of 4611686018427387904 bytes)*")]
    [InlineData("2^62 float64s", "*shape (4611686018427387904) holds more than 9223372036854775807 bytes of '<f8'*")]
    public void Npy_TheIssuesHostileFiles_AreClearErrors_WithoutAllocatingTheClaim(string name, string message)
    {
        var bytes = Hostile.Npy(name);
        string path = Path.Combine(folder, "hostile.npy");
        File.WriteAllBytes(path, bytes);

        var (fromFile, allocated) = Measure(() => NpyFile.Read(path));
        var (fromPipe, pipeAllocated) = Measure(() => NpyFile.Read(new ForwardOnlyStream(bytes)));

        fromFile.Should().BeOfType<InvalidDataException>().Which.Message.Should().StartWith(path + ": ").And.Match(message);
        allocated.Should().BeLessThan(bytes.Length + Slack);
        fromPipe.Should().BeOfType<InvalidDataException>("a stream that cannot seek ends where it ends");
        pipeAllocated.Should().BeLessThan(4 * Slack, "a stream of unknown length is read in small pieces, never at the claimed size");
    }

    [Fact]
    public void Safetensors_TheIssuesShapeOf2To62WithEmptyOffsets_IsRejectedOnOpen()
    {
        string path = Path.Combine(folder, "huge.safetensors");
        File.WriteAllBytes(path, Hostile.Safetensors());

        var (error, allocated) = Measure(() => SafetensorsFile.Open(path).Dispose());

        error.Should().BeOfType<InvalidDataException>().Which.Message.Should()
            .Be($"{path}: tensor 'w' (F32, shape [4611686018427387904]) has more than 9223372036854775807 bytes: its shape is not real.");
        allocated.Should().BeLessThan(new FileInfo(path).Length + Slack);
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "*bytes [4, 8) of the data section, before tensor 'b', belong to no tensor*")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 9, "*has 9 bytes but its tensors end at byte 4*")]
    [InlineData("{\"a\":{\"dtype\":\"I64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}", 0, "*'a' (I64, shape [2305843009213693952]) has more than*")]
    [InlineData("{\"a\":{\"dtype\":\"F16\",\"shape\":[4611686018427387904,4,0],\"data_offsets\":[0,0]}}", 0, "*has more than*")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "*claims bytes [4, 0)*")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,9223372036854775807]}}", 4, "*claims bytes [0, 9223372036854775807)*")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, "*not [begin, end]*")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "*'a' has a malformed entry*")]
    [InlineData("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "*'a' has a malformed entry*")]
    [InlineData("{\"a\":[1]}", 4, "*'a' is Array, not an object*")]
    [InlineData("{\"__metadata__\":{\"format\":1}}", 0, "*__metadata__ 'format' is Number, not a string*")]
    [InlineData("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "*__metadata__ twice*")]
    [InlineData("  {}", 0, "*does not start with '{'*")]
    [InlineData("\"{}\"", 0, "*does not start with '{'*")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}} trailing", 4, "*not valid JSON*")]
    public void Safetensors_LyingHeaders_AreClearErrorsNamingTheFile(string header, int dataBytes, string message)
    {
        string path = Path.Combine(folder, "lying.safetensors");
        File.WriteAllBytes(path, SafetensorsWriter.WithHeader(header, dataBytes));

        var (error, allocated) = Measure(() => SafetensorsFile.Open(path).Dispose());

        error.Should().BeOfType<InvalidDataException>().Which.Message.Should().StartWith(path + ": ").And.Match(message);
        allocated.Should().BeLessThan(new FileInfo(path).Length + Slack);
    }

    [Fact]
    public void Safetensors_FlippedAndRandomlyEditedHeaders_AreClearErrorsOrConsistentFiles()
    {
        string goodPath = Path.Combine(folder, "good.safetensors");
        SafetensorsWriter.Write(goodPath, new[]
        {
            ("a", "F32", new long[] { 2, 3 }, SafetensorsWriter.F32(1, 2, 3, 4, 5, 6)),
            ("b", "F16", new long[] { 4 }, SafetensorsWriter.F16(1, 2, 3, 4)),
            ("c", "BF16", new long[] { 2 }, SafetensorsWriter.BF16(1, 2)),
        });
        var good = File.ReadAllBytes(goodPath);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(good);
        string json = Encoding.UTF8.GetString(good, 8, headerEnd - 8);
        var random = new Random(20261201);
        string path = Path.Combine(folder, "edited.safetensors");
        var variants = new List<(string What, byte[] Bytes)>();
        for (int at = 0; at < headerEnd; at++)
        {
            var bytes = (byte[])good.Clone();
            bytes[at] ^= (byte)(1 << (at % 8));
            variants.Add(($"byte {at} ^ 0x{1 << (at % 8):X2}", bytes));
        }

        string[] numbers = { "0", "1", "2", "3", "4", "6", "8", "12", "24", "36", "-1", "4611686018427387904", "9223372036854775807", "1e3", "\"2\"" };
        string[] dtypes = { "F32", "F16", "BF16", "I32", "I64", "U8", "F64", "Q4", "" };
        for (int i = 0; i < 300; i++)
        {
            string edited = random.Next(3) switch
            {
                // A number in the header (a dimension or an offset) replaced.
                0 => ReplaceNth(json, "[0-9]+", random.Next(12), numbers[random.Next(numbers.Length)]),
                // A dtype replaced.
                1 => ReplaceNth(json, "\"(F32|F16|BF16)\"", random.Next(3), $"\"{dtypes[random.Next(dtypes.Length)]}\""),
                // Both, and the data section cut or extended.
                _ => ReplaceNth(ReplaceNth(json, "[0-9]+", random.Next(12), numbers[random.Next(numbers.Length)]), "\"(F32|F16|BF16)\"", random.Next(3), $"\"{dtypes[random.Next(dtypes.Length)]}\""),
            };
            int data = good.Length - headerEnd + (random.Next(4) == 0 ? random.Next(-8, 9) : 0);
            var bytes = SafetensorsWriter.WithHeader(edited, Math.Max(0, data));
            good.AsSpan(headerEnd, Math.Min(good.Length - headerEnd, Math.Max(0, data))).CopyTo(bytes.AsSpan(bytes.Length - Math.Max(0, data)));
            if (random.Next(8) == 0)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, random.Next(2) == 0 ? (ulong)random.NextInt64() : (ulong)(edited.Length + random.Next(-4, 5)));
            }

            variants.Add(($"edit {i}: {edited}, {data} data bytes", bytes));
        }

        int opened = 0, rejected = 0;
        foreach (var (what, bytes) in variants)
        {
            File.WriteAllBytes(path, bytes);
            var (error, allocated) = Measure(() =>
            {
                using var file = SafetensorsFile.Open(path);
                foreach (var t in file.Tensors.Values)
                {
                    if (t.Dtype is "F32" or "F16" or "BF16")
                    {
                        file.ReadFloats(t.Name).Length.Should().Be((int)t.ElementCount, what);
                    }
                }
            });

            if (error is null)
            {
                opened++;
                allocated.Should().BeLessThan((4 * bytes.Length) + Slack, what);
            }
            else
            {
                error.Should().BeOfType<InvalidDataException>(what).Which.Message.Should().StartWith(path + ": ", what);
                allocated.Should().BeLessThan(bytes.Length + Slack, what);
                rejected++;
            }
        }

        (opened, rejected).Should().Match<(int Opened, int Rejected)>(r => r.Opened >= 10 && r.Rejected >= 200, "the edits cover both outcomes");
    }

    [Fact]
    public void Checkpoint_ShardNamesThatLeaveTheFolder_AndIndexesThatAreNotObjects_AreRejected()
    {
        File.WriteAllText(Path.Combine(folder, "config.json"), "{\"hidden_size\": 12, \"num_attention_heads\": 4, \"num_hidden_layers\": 1}");
        string index = Path.Combine(folder, "model.safetensors.index.json");
        foreach (string target in new[] { "\"../outside.safetensors\"", "\"/etc/passwd\"", "\"sub/x.safetensors\"", "\"..\"", "\"\"", "3", "null" })
        {
            File.WriteAllText(index, $"{{\"weight_map\": {{\"model.layers.0.self_attn.q_proj.weight\": {target}}}}}");
            Action open = () => HuggingFaceCheckpoint.Open(folder).Dispose();
            open.Should().Throw<InvalidDataException>().WithMessage($"{index}: weight_map maps 'model.layers.0.self_attn.q_proj.weight' to {target}; expected the name of a .safetensors file*");
        }

        File.WriteAllText(index, "[1, 2]");
        Action notObject = () => HuggingFaceCheckpoint.Open(folder).Dispose();
        notObject.Should().Throw<InvalidDataException>().WithMessage("*has no weight_map object*");
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>
    /// Runs <paramref name="read"/> twice on this thread; returns what the first run threw (or null) and the fewer bytes
    /// either run allocated (the first may also pay one-time costs of the runtime; an allocation of the claimed size
    /// would show in both).
    /// </summary>
    private static (Exception? Error, long Allocated) Measure(Action read)
    {
        var (error, first) = MeasureOnce(read);
        var (_, second) = MeasureOnce(read);
        return (error, Math.Min(first, second));
    }

    private static (Exception? Error, long Allocated) MeasureOnce(Action read)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        Exception? error = null;
        try
        {
            read();
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            error = ex;
        }

        return (error, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static int Count(string[] dims) =>
        dims.All(d => int.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v <= 7) ? dims.Aggregate(1, (a, d) => a * int.Parse(d, CultureInfo.InvariantCulture)) : 3;

    private static string ReplaceNth(string text, string pattern, int n, string replacement)
    {
        var matches = System.Text.RegularExpressions.Regex.Matches(text, pattern);
        if (matches.Count == 0)
        {
            return text;
        }

        var m = matches[n % matches.Count];
        return string.Concat(text.AsSpan(0, m.Index), replacement, text.AsSpan(m.Index + m.Length));
    }
}
