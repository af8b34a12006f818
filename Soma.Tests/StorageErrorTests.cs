using Soma;
using Soma.Reference;
using Soma.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Soma.Tests;

/// <summary>
/// What fp16 and bf16 storage cost in accuracy (docs/semantics.md, "Storage types"): the outputs of one layer with a
/// 16-bit ring (or 16-bit weights) against the same layer with fp32 storage, on the device (CPU accelerator) and in
/// the reference, max |y - y_fp32| / max |y_fp32| over a 256-token prefill. Printed with
/// <c>--logger "console;verbosity=detailed"</c>; the bounds are loose ceilings of the measured values.
/// </summary>
public sealed class StorageErrorTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(SomaStorageType.Float32, SomaStorageType.Float16, 2e-3)]
    [InlineData(SomaStorageType.Float32, SomaStorageType.BFloat16, 2e-2)]
    [InlineData(SomaStorageType.Float16, SomaStorageType.Float32, 2e-3)]
    [InlineData(SomaStorageType.BFloat16, SomaStorageType.Float32, 2e-2)]
    [InlineData(SomaStorageType.BFloat16, SomaStorageType.Float16, 2e-2)]
    [InlineData(SomaStorageType.Float16, SomaStorageType.BFloat16, 2e-2)]
    public void SixteenBitStorage_ErrorAgainstFp32Storage_IsMeasuredAndBounded(SomaStorageType weightType, SomaStorageType ringType, double bound)
    {
        var fp32 = new SomaLayerOptions(128, 8, 2, 32, window: 64, ropeTheta: 10000.0);
        var o = fp32 with { WeightStorage = weightType, RingStorage = ringType };
        var w = SomaLayerWeights.CreateRandom(fp32, seed: 340, biases: true);
        var x = TestData.Inputs(fp32.ModelDim, 256, seed: 341);

        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu));
        float[] Device(SomaLayerOptions options)
        {
            using var layer = engine.CreateLayer(options, w);
            using var session = layer.CreateSession();
            return session.Prefill(x);
        }

        double[] Reference(SomaLayerOptions options)
        {
            var reference = new SomaReference(options, w);
            return reference.Run(reference.CreateState(), x);
        }

        var y = Device(o).Select(v => (double)v).ToArray();
        var expected = Reference(o);
        double device = Error(y, Device(fp32).Select(v => (double)v).ToArray());
        double reference = Error(expected, Reference(fp32));
        double held = Error(y, expected);
        output.WriteLine(
            $"weights {weightType}, ring {ringType} vs fp32, D 128, H 8, Hkv 2, dh 32, W 64, 256 tokens: " +
            $"max|dy|/max|y| device {device:E2}, reference {reference:E2}; device vs the reference fed the stored values {held:E2}");
        device.Should().BeGreaterThan(0, "16-bit storage rounds");
        device.Should().BeLessThan(bound);
        reference.Should().BeLessThan(bound);
        held.Should().BeLessThan(Tolerance.Output, "the reference fed the stored values keeps the fp32 bound");
    }

    private static double Error(double[] y, double[] baseline)
    {
        double scale = baseline.Max(Math.Abs);
        return y.Zip(baseline, (a, b) => Math.Abs(a - b)).Max() / scale;
    }
}
