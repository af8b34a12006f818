using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Soma.Tests.Peers.Onnx;

namespace Soma.Tests.Peers;

/// <summary>
/// What the ONNX Runtime peers share: building a ModelProto (through the subset in onnx_subset.proto) with opset 23,
/// its attributes, value infos and initializers, and running it once on the CPU execution provider.
/// </summary>
internal static class OnnxGraph
{
    /// <summary>IR version 11 (ONNX 1.18), the release that introduced opset 23.</summary>
    public const long IrVersion = 11;

    /// <summary>The default-domain opset: 23 is the first that has Attention, RMSNormalization and RotaryEmbedding.</summary>
    public const long DefaultOpset = 23;

    /// <summary>The contrib domain of GroupQueryAttention (imported at version 1, its only version).</summary>
    public const string MicrosoftDomain = "com.microsoft";

    /// <summary>The contrib-domain import a graph with GroupQueryAttention needs.</summary>
    public static OperatorSetIdProto MicrosoftOpset => new() { Domain = MicrosoftDomain, Version = 1 };

    /// <summary>The serialized model of <paramref name="graph"/>, importing opset 23 and <paramref name="extraOpsets"/>.</summary>
    public static byte[] Model(GraphProto graph, params OperatorSetIdProto[] extraOpsets)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "Soma.Tests.Peers",
            Graph = graph,
            OpsetImport = { new OperatorSetIdProto { Domain = string.Empty, Version = DefaultOpset } },
        };
        model.OpsetImport.Add(extraOpsets);
        return model.ToByteArray();
    }

    public static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto FloatAttribute(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static ValueInfoProto Value(string name, TensorProto.Types.DataType type, params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    /// <summary>A float initializer of shape <paramref name="dims"/> (raw little-endian data).</summary>
    public static TensorProto Floats(string name, ReadOnlySpan<float> values, params long[] dims) =>
        Tensor(name, TensorProto.Types.DataType.Float, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values), values.Length, dims);

    /// <summary>An int64 initializer of shape <paramref name="dims"/> (a scalar when there are none).</summary>
    public static TensorProto Longs(string name, ReadOnlySpan<long> values, params long[] dims) =>
        Tensor(name, TensorProto.Types.DataType.Int64, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values), values.Length, dims);

    /// <summary>An int32 initializer of shape <paramref name="dims"/> (a scalar when there are none).</summary>
    public static TensorProto Ints(string name, ReadOnlySpan<int> values, params long[] dims) =>
        Tensor(name, TensorProto.Types.DataType.Int32, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values), values.Length, dims);

    /// <summary>
    /// Runs <paramref name="model"/> once (one intra-op thread) and returns <paramref name="outputName"/>, which must
    /// hold <paramref name="expectedLength"/> floats; every native object made is disposed.
    /// </summary>
    public static float[] RunSingleOutput(
        byte[] model, string[] inputNames, OrtValue[] inputs, string outputName, int expectedLength)
    {
        using var sessionOptions = new SessionOptions
        {
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
        };
        using var session = new InferenceSession(model, sessionOptions);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, inputNames, inputs, [outputName]);
        var result = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        if (result.Length != expectedLength)
        {
            throw new InvalidOperationException($"ONNX Runtime returned {result.Length} values for {outputName}; expected {expectedLength}.");
        }

        return result;
    }

    private static TensorProto Tensor(string name, TensorProto.Types.DataType type, ReadOnlySpan<byte> bytes, int count, long[] dims)
    {
        long expected = dims.Aggregate(1L, (a, b) => a * b);
        if (expected != count)
        {
            throw new ArgumentException($"initializer {name} has {count} values; its shape [{string.Join(", ", dims)}] holds {expected}.", nameof(dims));
        }

        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        tensor.Dims.Add(dims);
        return tensor;
    }
}
