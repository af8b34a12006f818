using System.Buffers.Binary;
using Soma;
using Soma.IO;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.IO;

/// <summary>A 16-bit checkpoint reaches the layer bit for bit: read as raw 16-bit patterns, stored in its own type.</summary>
public sealed class CheckpointStorageTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("soma-ckpt16-").FullName;

    [Theory]
    [InlineData("BF16", SomaStorageType.BFloat16)]
    [InlineData("F16", SomaStorageType.Float16)]
    public void A16BitCheckpoint_LoadsWithoutRounding_AndRunsLikeTheReference(string dtype, SomaStorageType type)
    {
        // Random finite 16-bit patterns of the weights' magnitude (not values that came from fp32): every bit counts.
        var rng = new Random(dtype.Length);
        ushort[] Bits(int count)
        {
            var bits = new ushort[count];
            for (int i = 0; i < count; i++)
            {
                float value = (float)((rng.NextDouble() * 2 - 1) * 0.3);
                bits[i] = (ushort)(Internal.StorageTypes.Narrow(value, type) ^ (ushort)rng.Next(0, 8));
            }

            return bits;
        }

        var wq = Bits(16 * 12);
        var wk = Bits(8 * 12);
        var wv = Bits(8 * 12);
        var wo = Bits(12 * 16);
        byte[] Bytes(ushort[] bits)
        {
            var bytes = new byte[bits.Length * 2];
            for (int i = 0; i < bits.Length; i++)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(2 * i), bits[i]);
            }

            return bytes;
        }

        File.WriteAllText(
            Path.Combine(folder, "config.json"),
            "{\"hidden_size\":12,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":4,\"num_hidden_layers\":1,\"rope_theta\":1000.0}");
        string p = "model.layers.0.self_attn.";
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), new (string, string, long[], byte[])[]
        {
            (p + "q_proj.weight", dtype, new long[] { 16, 12 }, Bytes(wq)),
            (p + "k_proj.weight", dtype, new long[] { 8, 12 }, Bytes(wk)),
            (p + "v_proj.weight", dtype, new long[] { 8, 12 }, Bytes(wv)),
            (p + "o_proj.weight", dtype, new long[] { 12, 16 }, Bytes(wo)),
            (p + "q_proj.bias", dtype, new long[] { 16 }, Bytes(Bits(16))),
        });

        using var checkpoint = HuggingFaceCheckpoint.Open(folder);
        var (options, weights) = checkpoint.LoadAttentionLayer(0, new SomaParameters(Window: 5));

        weights.ProjectionType.Should().Be(type);
        weights.Floats(0).Should().BeNull("the projections never pass through fp32 on the host");
        weights.Bits(0).Should().Equal(wq);
        weights.Bits(3).Should().Equal(wo);
        var widened = new SomaLayerWeights
        {
            Wq = weights.Wq, Wk = weights.Wk, Wv = weights.Wv, Wo = weights.Wo, Gamma = weights.Gamma, Alpha = weights.Alpha, Bq = weights.Bq,
        };

        var x = TestData.Inputs(options.ModelDim, 7, seed: 330);
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu));
        using var layer = engine.CreateLayer(options, weights);
        using var fp32 = engine.CreateLayer(options, widened);
        layer.Options.WeightStorage.Should().Be(type, "a layer stores a checkpoint's weights in the checkpoint's dtype by default");
        fp32.Options.WeightStorage.Should().Be(SomaStorageType.Float32);
        layer.WeightsSha256.Should().Be(fp32.WeightsSha256, "storing the 16-bit weights rounds nothing");
        using var session = layer.CreateSession();
        using var wide = fp32.CreateSession();
        var y = session.Prefill(x);
        y.Should().Equal(wide.Prefill(x), "the 16-bit layer computes with exactly the checkpoint's values");
        var reference = new SomaReference(options, weights);
        Tolerance.ShouldMatch(y, reference.Run(reference.CreateState(), x), "y of the 16-bit layer");
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
