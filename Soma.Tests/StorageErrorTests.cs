using Soma;
using Soma.Reference;
using Soma.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Soma.Tests;

/// <summary>
/// What fp16 and bf16 storage cost in accuracy (docs/semantics.md, "Storage types"): the outputs of one layer with a
/// 16-bit ring (or 16-bit weights) against the same layer with fp32 storage, on the device (CPU accelerator) and in
/// the reference, max |y - y_fp32| / max |y_fp32| over a 128-token prefill, and the device against the reference fed
/// the stored values. Printed with <c>--logger "console;verbosity=detailed"</c>; the bounds are loose ceilings of the
/// measured values. Runs on the shared CPU engine (its collection), whose kernels the storage suites load anyway.
/// </summary>
[Collection(CpuCollection.Name)]
public sealed class StorageErrorTests(CpuFixture fixture, StorageErrorTests.Baseline baseline, ITestOutputHelper output)
    : IClassFixture<StorageErrorTests.Baseline>
{
    /// <summary>The fp32-storage layer: D 128, H 8, Hkv 2, dh 32, W 64, RoPE.</summary>
    private static SomaLayerOptions Fp32 => new(128, 8, 2, 32, window: 64, ropeTheta: 10000.0);

    [Theory]
    [InlineData(SomaStorageType.Float32, SomaStorageType.Float16, 2e-3)]
    [InlineData(SomaStorageType.Float32, SomaStorageType.BFloat16, 2e-2)]
    [InlineData(SomaStorageType.Float16, SomaStorageType.Float32, 2e-3)]
    [InlineData(SomaStorageType.BFloat16, SomaStorageType.Float32, 2e-2)]
    [InlineData(SomaStorageType.BFloat16, SomaStorageType.Float16, 2e-2)]
    [InlineData(SomaStorageType.Float16, SomaStorageType.BFloat16, 2e-2)]
    public void SixteenBitStorage_ErrorAgainstFp32Storage_IsMeasuredAndBounded(SomaStorageType weightType, SomaStorageType ringType, double bound)
    {
        var o = Fp32 with { WeightStorage = weightType, RingStorage = ringType };
        var y = baseline.Device(fixture.Engine, o);
        var expected = baseline.Reference(o);
        double device = Error(y, baseline.Device(fixture.Engine, Fp32));
        double reference = Error(expected, baseline.Reference(Fp32));
        double held = Error(y, expected);
        output.WriteLine(
            $"weights {weightType}, ring {ringType} vs fp32, D 128, H 8, Hkv 2, dh 32, W 64, 128 tokens: " +
            $"max|dy|/max|y| device {device:E2}, reference {reference:E2}; device vs the reference fed the stored values {held:E2}");
        device.Should().BeGreaterThan(0, "16-bit storage rounds");
        device.Should().BeLessThan(bound);
        reference.Should().BeLessThan(bound);
        held.Should().BeLessThan(Internal.StorageTypes.OutputBound(ringType).Relative, "what outputs are held to against the reference fed the stored values");
    }

    private static double Error(double[] y, double[] baselineY)
    {
        double scale = baselineY.Max(Math.Abs);
        return y.Zip(baselineY, (a, b) => Math.Abs(a - b)).Max() / scale;
    }

    /// <summary>The weights, the inputs, and the outputs of each storage pair, computed once for the class.</summary>
    public sealed class Baseline
    {
        private readonly SomaLayerWeights weights = SomaLayerWeights.CreateRandom(Fp32, seed: 340, biases: true);
        private readonly float[] x = TestData.Inputs(128, 128, seed: 341);
        private readonly Dictionary<(SomaStorageType?, SomaStorageType, bool), double[]> outputs = new();

        /// <summary>y of a prefill of the inputs by a fresh layer of <paramref name="options"/> on <paramref name="engine"/>.</summary>
        public double[] Device(SomaEngine engine, SomaLayerOptions options) => Once(options, device: true, () =>
        {
            using var layer = engine.CreateLayer(options, weights);
            using var session = layer.CreateSession();
            return session.Prefill(x).Select(v => (double)v).ToArray();
        });

        /// <summary>y of the reference for <paramref name="options"/>.</summary>
        public double[] Reference(SomaLayerOptions options) => Once(options, device: false, () =>
        {
            var reference = new SomaReference(options, weights);
            return reference.Run(reference.CreateState(), x);
        });

        private double[] Once(SomaLayerOptions options, bool device, Func<double[]> compute)
        {
            var key = (options.WeightStorage, options.RingStorage, device);
            lock (outputs)
            {
                if (!outputs.TryGetValue(key, out var y))
                {
                    outputs[key] = y = compute();
                }

                return y;
            }
        }
    }
}
