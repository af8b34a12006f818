using System.Buffers.Binary;
using System.Text;
using Soma.IO;

namespace Soma.Tests.IO;

/// <summary>The .npy and .safetensors readers on files the tests write, well-formed and broken in each way named.</summary>
public sealed class FormatTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("soma-io-").FullName;

    [Fact]
    public void Npy_Float32RoundTrip_AndFloat16Read()
    {
        var data = Enumerable.Range(0, 12).Select(i => i * 0.5f - 3f).ToArray();
        string path = Path.Combine(folder, "x.npy");
        NpyFile.Write(path, data, 3, 4);

        var (read, shape) = NpyFile.Read(path);

        read.Should().Equal(data);
        shape.Should().Equal(3, 4);
        var (half, halfShape) = NpyFile.Read(new MemoryStream(Npy("<f2", "False", "(4,)", new byte[] { 0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0x00, 0x00 })));
        half.Should().Equal(1f, -2f, 0.5f, 0f);
        halfShape.Should().Equal(4);
    }

    [Theory]
    [InlineData("<f4", "True", "(2, 2)", 16, "*Fortran order*")]
    [InlineData(">f4", "False", "(2, 2)", 16, "*big-endian*")]
    [InlineData("<i8", "False", "(2,)", 16, "*'<i8' is not supported*")]
    [InlineData("<f4", "False", "(2, 2)", 10, "*truncated*data*")]
    [InlineData("<f4", "False", "(2, x)", 16, "*'x', not a dimension*")]
    public void Npy_RejectsWhatItCannotRead(string descr, string fortran, string shape, int dataBytes, string message)
    {
        Action read = () => NpyFile.Read(new MemoryStream(Npy(descr, fortran, shape, new byte[dataBytes])));
        read.Should().Throw<InvalidDataException>().WithMessage(message);
        Action badMagic = () => NpyFile.Read(new MemoryStream(Encoding.ASCII.GetBytes("PK\u0003\u0004 not npy")));
        badMagic.Should().Throw<InvalidDataException>().WithMessage("*NUMPY*");
    }

    [Fact]
    public void Safetensors_ReadsF32F16AndBF16AsFloat_AndMetadata()
    {
        string path = Write("ok.safetensors", new[]
        {
            ("a", "F32", new long[] { 2, 2 }, Floats(1f, -2f, 3.5f, 0.25f)),
            ("b", "F16", new long[] { 3 }, new byte[] { 0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38 }),
            ("c", "BF16", new long[] { 2 }, new byte[] { 0x80, 0x3f, 0x40, 0xc0 }),
            ("ids", "I64", new long[] { 1 }, new byte[8]),
        }, metadata: new Dictionary<string, string> { ["format"] = "pt" });

        using var file = SafetensorsFile.Open(path);

        file.ReadFloats("a").Should().Equal(1f, -2f, 3.5f, 0.25f);
        file.ReadFloats("b").Should().Equal(1f, -2f, 0.5f);
        file.ReadFloats("c").Should().Equal(1f, -3f);
        file.Tensors["a"].Shape.Should().Equal(2, 2);
        file.Metadata["format"].Should().Be("pt");
        Action readInts = () => file.ReadFloats("ids");
        readInts.Should().Throw<InvalidDataException>().WithMessage("*I64; expected F32, F16 or BF16*");
        Action missing = () => file.ReadFloats("nope");
        missing.Should().Throw<KeyNotFoundException>().WithMessage("*no tensor 'nope'*");
    }

    [Fact]
    public void Safetensors_RejectsLyingHeadersTruncationUnknownDtypesAndHugeHeaders()
    {
        var good = File.ReadAllBytes(Write("base.safetensors", new[] { ("w", "F32", new long[] { 2, 3 }, Floats(1, 2, 3, 4, 5, 6)) }));

        Expect(WithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,28]}}", 32), "*needs 24 bytes but its data_offsets span 28*");
        Expect(WithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]}}", 24), "*claims bytes [8, 32)*24 bytes*");
        Expect(WithHeader("{\"w\":{\"dtype\":\"Q4\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24), "*dtype 'Q4'*");
        Expect(WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 24), "*overlap*");
        Expect(WithHeader("{\"w\": [1, 2", 24), "*not valid JSON*");
        Expect(good[..(good.Length - 5)], "*claims bytes [0, 24)*19 bytes*");
        var huge = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(huge, 1UL << 40);
        Expect(huge, "*header length 1099511627776 does not fit*");
        Expect(new byte[5], "*too short*");
        Expect(WithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16), "*names tensor 'w' twice*");
        Expect(WithHeader("{\"__metadata__\": [1], \"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "*__metadata__ is not an object*");
        Expect(WithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "*'w' has a negative dimension*");
        Expect(WithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8), "*'w' has a malformed entry*");
        Expect(WithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8), "*'w' has a malformed entry*");
        Expect(WithHeader("[]", 8), "*not a JSON object*");
    }

    [Fact]
    public void Safetensors_ReadsTensorsLargerThanOneConversionPiece()
    {
        // 300,000 elements: more than 1 MiB of F32 and of BF16 bytes, so the conversion crosses piece boundaries.
        var values = Enumerable.Range(0, 300_000).Select(i => (i % 1000) * 0.25f - 100f).ToArray();
        string path = Write("big.safetensors", new[]
        {
            ("f32", "F32", new long[] { 600, 500 }, SafetensorsWriter.F32(values)),
            ("bf16", "BF16", new long[] { 300_000 }, SafetensorsWriter.BF16(values)),
            ("f16", "F16", new long[] { 300_000 }, SafetensorsWriter.F16(values)),
        });

        using var file = SafetensorsFile.Open(path);

        file.ReadFloats("f32").Should().Equal(values);
        file.ReadFloats("bf16").Should().Equal(values.Select(SafetensorsWriter.RoundBF16));
        file.ReadFloats("f16").Should().Equal(values.Select(v => (float)(Half)v));
    }

    [Fact]
    public void Npy_ErrorsFromAFileNameIt_AndAbsurdShapesAreRejectedBeforeReading()
    {
        string path = Path.Combine(folder, "broken.npy");
        File.WriteAllBytes(path, Npy("<f4", "False", "(3, 4)", new byte[20]));
        Action truncated = () => NpyFile.Read(path);
        truncated.Should().Throw<InvalidDataException>().WithMessage($"{path}: *truncated*");

        Action huge = () => NpyFile.Read(new MemoryStream(Npy("<f4", "False", "(4294967296, 4294967296, 4294967296)", new byte[16])));
        huge.Should().Throw<InvalidDataException>().WithMessage("*holds more than*");
        Action badVersion = () => NpyFile.Read(new MemoryStream(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 9, 0, 0, 0 }));
        badVersion.Should().Throw<InvalidDataException>().WithMessage("*version 9.0 is not supported*");
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    private void Expect(byte[] bytes, string message)
    {
        string path = Path.Combine(folder, $"bad-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, bytes);
        Action open = () => SafetensorsFile.Open(path).Dispose();
        open.Should().Throw<InvalidDataException>().WithMessage(message);
    }

    private static byte[] WithHeader(string json, int dataBytes)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    private string Write(string name, (string Name, string Dtype, long[] Shape, byte[] Data)[] tensors, Dictionary<string, string>? metadata = null)
    {
        string path = Path.Combine(folder, name);
        SafetensorsWriter.Write(path, tensors, metadata);
        return path;
    }

    private static byte[] Floats(params float[] values) => SafetensorsWriter.F32(values);

    private static byte[] Npy(string descr, string fortran, string shape, byte[] data)
    {
        var header = Encoding.ASCII.GetBytes($"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}\n");
        var bytes = new byte[10 + header.Length + data.Length];
        new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 }.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        header.CopyTo(bytes, 10);
        data.CopyTo(bytes, 10 + header.Length);
        return bytes;
    }
}
