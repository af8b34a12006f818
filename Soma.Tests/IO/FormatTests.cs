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
        var (half, halfShape) = NpyFile.Read(new MemoryStream(NpyWriter.Bytes("<f2", "False", "(4,)", new byte[] { 0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0x00, 0x00 })));
        half.Should().Equal(1f, -2f, 0.5f, 0f);
        halfShape.Should().Equal(4);
    }

    [Fact]
    public void Npy_Float64IsConvertedToFloat32_AndValuesBeyondFloat32AreRejected()
    {
        var values = new[] { 1.0, -2.5, 1e-50, 3.4e38, double.PositiveInfinity, Math.PI };
        string path = Path.Combine(folder, "f64.npy");
        File.WriteAllBytes(path, NpyWriter.Bytes("<f8", "False", "(2, 3)", NpyWriter.F64(values)));

        var (read, shape) = NpyFile.Read(path);

        read.Should().Equal(values.Select(v => (float)v), "converted as (float)value; an infinity stays one, 1e-50 underflows to 0");
        shape.Should().Equal(2, 3);
        File.WriteAllBytes(path, NpyWriter.Bytes("<f8", "False", "(3,)", NpyWriter.F64(1.0, -3.5e38, 2.0), major: 2));
        Action beyond = () => NpyFile.Read(path);
        beyond.Should().Throw<InvalidDataException>().WithMessage($"{path}: *element 1 is -3.5E+38, outside the float32 range*");
    }

    [Fact]
    public void Npy_Int32AndInt64RoundTrip_AsLongs_AndTokensAreCheckedIds()
    {
        string i4 = Path.Combine(folder, "i4.npy"), i8 = Path.Combine(folder, "i8.npy"), grid = Path.Combine(folder, "grid.npy");
        File.WriteAllBytes(i4, NpyWriter.Bytes("<i4", "False", "(5,)", NpyWriter.I32(0, 7, int.MaxValue, -1, 151_642), major: 3));
        File.WriteAllBytes(i8, NpyWriter.Bytes("<i8", "False", "(4,)", NpyWriter.I64(3, 151_935, 0, 42)));
        File.WriteAllBytes(grid, NpyWriter.Bytes("<i8", "False", "(2, 2)", NpyWriter.I64(1, 2, 3, long.MinValue)));

        NpyFile.ReadInt64(i4).Data.Should().Equal(0, 7, int.MaxValue, -1, 151_642);
        NpyFile.ReadInt64(grid).Should().BeEquivalentTo((new long[] { 1, 2, 3, long.MinValue }, new long[] { 2, 2 }));
        NpyFile.ReadInt64(new MemoryStream(File.ReadAllBytes(i8))).Shape.Should().Equal(4);
        NpyFile.ReadTokens(i8, vocabularySize: 151_936).Should().Equal(3, 151_935, 0, 42);

        Action outOfVocabulary = () => NpyFile.ReadTokens(i8, vocabularySize: 151_935);
        outOfVocabulary.Should().Throw<InvalidDataException>().WithMessage($"{i8}: token 1 is 151935; expected an id in [0, 151935).");
        Action negative = () => NpyFile.ReadTokens(i4, vocabularySize: int.MaxValue);
        negative.Should().Throw<InvalidDataException>().WithMessage("*token 2 is 2147483647*");
        Action twoD = () => NpyFile.ReadTokens(grid, 10);
        twoD.Should().Throw<InvalidDataException>().WithMessage($"{grid}: token ids have shape (2, 2); expected a 1-D array (n,)*");
        Action floatsAsIds = () => NpyFile.ReadInt64(new MemoryStream(NpyWriter.Bytes("<f8", "False", "(1,)", NpyWriter.F64(1))));
        floatsAsIds.Should().Throw<InvalidDataException>().WithMessage("*'<f8' holds floats; expected integers ('<i4' or '<i8')*");
        Action idsAsFloats = () => NpyFile.Read(i4);
        idsAsFloats.Should().Throw<InvalidDataException>().WithMessage($"{i4}: *'<i4' is not supported here*token ids*");
    }

    [Fact]
    public void Npy_StreamsThatCannotSeek_ReadArraysLargerThanOnePiece()
    {
        var values = Enumerable.Range(0, 70_000).Select(i => i * 0.125f).ToArray();
        var bytes = new MemoryStream();
        NpyFile.Write(bytes, values, 70_000);
        NpyFile.Write(bytes, new[] { 9f }, 1);
        var stream = new ForwardOnlyStream(bytes.ToArray());

        NpyFile.Read(stream).Data.Should().Equal(values);
        NpyFile.Read(stream).Data.Should().Equal(new[] { 9f }, "a stream may hold one array after another");
        var longs = new ForwardOnlyStream(NpyWriter.Bytes("<i8", "False", "(9000,)", NpyWriter.I64(Enumerable.Range(0, 9000).Select(i => (long)i * i).ToArray())));
        NpyFile.ReadInt64(longs).Data.Should().Equal(Enumerable.Range(0, 9000).Select(i => (long)i * i));
    }

    [Theory]
    [InlineData("<f4", "True", "(2, 2)", 16, "*Fortran order*")]
    [InlineData(">f4", "False", "(2, 2)", 16, "*big-endian*")]
    [InlineData("<i8", "False", "(2,)", 16, "*'<i8' is not supported*")]
    [InlineData("<f4", "False", "(2, 2)", 10, "*truncated*data*")]
    [InlineData("<f4", "False", "(2, x)", 16, "*'x', not a dimension*")]
    public void Npy_RejectsWhatItCannotRead(string descr, string fortran, string shape, int dataBytes, string message)
    {
        Action read = () => NpyFile.Read(new MemoryStream(NpyWriter.Bytes(descr, fortran, shape, new byte[dataBytes])));
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

        Expect(SafetensorsWriter.WithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,28]}}", 32), "*needs 24 bytes but its data_offsets span 28*");
        Expect(SafetensorsWriter.WithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[8,32]}}", 24), "*claims bytes [8, 32)*24 bytes*");
        Expect(SafetensorsWriter.WithHeader("{\"w\":{\"dtype\":\"Q4\",\"shape\":[2,3],\"data_offsets\":[0,24]}}", 24), "*dtype 'Q4'*");
        Expect(SafetensorsWriter.WithHeader("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 24), "*overlap*");
        Expect(SafetensorsWriter.WithHeader("{\"w\": [1, 2", 24), "*not valid JSON*");
        Expect(good[..(good.Length - 5)], "*claims bytes [0, 24)*19 bytes*");
        var huge = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(huge, 1UL << 40);
        Expect(huge, "*header length 1099511627776 does not fit*");
        Expect(new byte[5], "*too short*");
        Expect(SafetensorsWriter.WithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16), "*names tensor 'w' twice*");
        Expect(SafetensorsWriter.WithHeader("{\"__metadata__\": [1], \"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "*__metadata__ is not an object*");
        Expect(SafetensorsWriter.WithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "*'w' has a negative dimension*");
        Expect(SafetensorsWriter.WithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8), "*'w' has a malformed entry*");
        Expect(SafetensorsWriter.WithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8), "*'w' (F32, shape [4294967296, 4294967296, 4294967296]) has more than 9223372036854775807 bytes*");
        Expect(SafetensorsWriter.WithHeader("[]", 8), "*not a JSON object*");
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
        File.WriteAllBytes(path, NpyWriter.Bytes("<f4", "False", "(3, 4)", new byte[20]));
        Action truncated = () => NpyFile.Read(path);
        truncated.Should().Throw<InvalidDataException>().WithMessage($"{path}: *truncated*");

        Action huge = () => NpyFile.Read(new MemoryStream(NpyWriter.Bytes("<f4", "False", "(4294967296, 4294967296, 4294967296)", new byte[16])));
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

    private string Write(string name, (string Name, string Dtype, long[] Shape, byte[] Data)[] tensors, Dictionary<string, string>? metadata = null)
    {
        string path = Path.Combine(folder, name);
        SafetensorsWriter.Write(path, tensors, metadata);
        return path;
    }

    private static byte[] Floats(params float[] values) => SafetensorsWriter.F32(values);
}
