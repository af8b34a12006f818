using ILGPU.Runtime;
using Soma;
using Soma.Internal;
using Soma.Kernels;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests;

/// <summary>
/// The split-KV decode attention (<see cref="SplitKvDecodeAttention"/>) on CPU devices of warp sizes 2, 4 and 32:
/// against softmax over the window in double (the keys and values as stored) and against
/// <see cref="NearFieldAttention"/>, for every ring storage type, windows 1, 7, 64 and a full 300-key standard cache,
/// GQA ratios 1, 3 and 4, splits 1 to 5, with and without the far field; every (row, kv-head) counter back to 0 after
/// each of two launches. The plans: GPU decode takes it where dh % 4 == 0, odd head widths the old kernel; a layer's
/// decode with it forced on the CPU (and its windows split) matches the reference step after step.
/// </summary>
public sealed class SplitKvDecodeAttentionTests
{
    private const int KvHeads = 2, Slots = 2;

    [Fact]
    public void DecodeAttention_MatchesReferenceAndNearField_ForEveryStorageWindowGqaAndSplit()
    {
        // Warp size 2 (the CPU accelerator's default): the whole matrix. ILGPU's CPU devices have at least 2 threads a warp.
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu, cpuThreadsPerWarp: 2, cpuWarpsPerGroup: 4));
        long held = engine.AllocatedBuffers;
        var run = new Runner(engine);
        int index = 0;
        foreach (var storage in new[] { SomaStorageType.Float32, SomaStorageType.Float16, SomaStorageType.BFloat16 })
        {
            foreach (int window in new[] { 1, 7, 64, 300 })
            {
                foreach (int perKv in new[] { 1, 3, 4 })
                {
                    int dh = 4 * perKv + 4;
                    int splits = 1 + index++ % 5;
                    run.Case(storage, window, perKv, dh, splits, farField: index % 2 == 0, seed: index);
                }
            }
        }

        for (int splits = 1; splits <= 5; splits++)
        {
            run.Case(SomaStorageType.Float16, 64, 4, 8, splits, farField: true, seed: 100 + splits);
        }

        run.Dispose();
        engine.AllocatedBuffers.Should().Be(held, "the cases free what they allocated");
    }

    [Theory]
    [InlineData(4, 4)]
    [InlineData(32, 1)]
    public void DecodeAttention_OnWiderWarps_MatchesReferenceAndNearField(int warp, int warpsPerGroup)
    {
        // The CPU accelerator runs a warp shuffle as four barriers of the warp's threads: a smaller matrix (dh below,
        // at and above 4 x warp quads' reach; every storage type; split and whole windows).
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu, cpuThreadsPerWarp: warp, cpuWarpsPerGroup: warpsPerGroup));
        engine.Device.WarpSize.Should().Be(warp);
        using var run = new Runner(engine);
        run.Case(SomaStorageType.Float32, 7, 3, 20, 2, farField: true, seed: 1);
        run.Case(SomaStorageType.Float16, 1, 4, 8, 1, farField: false, seed: 2);
        run.Case(SomaStorageType.BFloat16, 7, 1, 4 * warp + 4, 3, farField: true, seed: 3);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(10)]
    public void DecodePlans_OfOddHeadWidths_TakeNearFieldAttention_AndMultiplesOfFourTheSplitKvKernel(int oddDh)
    {
        // The CPU accelerator's own plans keep near-field attention (its warp shuffles are barriers); GPUs' take split-KV.
        using (var cpu = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu)))
        {
            cpu.Shapes.Attention(1, 6, 2, oddDh + 2, 3, 64, decode: true).SplitKv.Should().BeFalse();
        }

        new LaunchShapes(DeviceDescription.H100Sxm).Attention(1, 6, 2, oddDh + 2, 3, 64, decode: true).SplitKv.Should().BeTrue();
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu) { Tuning = new LaunchTuning { SplitKvDecode = true } });
        var shapes = engine.Shapes;
        shapes.Attention(1, 6, 2, oddDh, 3, 64, decode: true).SplitKv.Should().BeFalse("dh {0} is not a multiple of 4", oddDh);
        shapes.Attention(1, 6, 2, oddDh + 2, 3, 64, decode: true).SplitKv.Should().BeTrue();
        shapes.Attention(4, 6, 2, oddDh + 2, 3, 64).SplitKv.Should().BeFalse("prefill keeps NearFieldAttention");
        var act = () => shapes.Attention(1, 6, 2, oddDh, 3, 64, splitKv: true);
        act.Should().Throw<ArgumentException>().WithMessage("*dh % 4 == 0*");
    }

    [Fact]
    public void H100DecodePlan_SplitsTheWindowToTwoGroupsPerMultiprocessor_AndLeavesShortWindowsWhole()
    {
        var o = new SomaLayerOptions(3584, 28, 4, 128, window: 65536, includeCurrent: true, ropeTheta: 1e6);
        var h100 = DeviceDescription.H100Sxm;
        var longWindow = LaunchPlan.For(h100, o, new PlanKey(1, 1, 65536, 1), standard: true).Attention;
        longWindow.SplitKv.Should().BeTrue();
        (4L * longWindow.Tiling.Splits).Should().BeGreaterThanOrEqualTo(2L * h100.Multiprocessors);
        longWindow.HasCombine.Should().BeFalse("the splits merge in the same launch");

        var shortWindow = LaunchPlan.For(h100, o, new PlanKey(1, 1, 16, 1)).Attention;
        (shortWindow.SplitKv, shortWindow.Tiling.Splits).Should().Be((true, 1));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LayerDecode_WithSplitKvForcedOnTheCpu_MatchesReference_StepAfterStep(bool standard)
    {
        // Windows split across groups as on a GPU (the overrides are fixed per engine): every decode step merges its
        // splits through the counters, so a counter left non-zero by one step would break the next.
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu)
        {
            Tuning = new LaunchTuning { AttentionTargetGroups = 1000, MinKeysPerSplit = 2, SplitKvDecode = true },
        });
        var o = new SomaLayerOptions(14, 6, 2, 8, window: 11, includeCurrent: true, ropeTheta: 10000.0);
        var w = TestData.Weights(o, seed: 41, biases: true);
        var x = TestData.Inputs(o.ModelDim, 24, seed: 42);
        var plan = LaunchPlan.Create(engine.Shapes, o, standard, engine.Shapes.AttentionHeadsPerGroup(o.HeadsPerKvHead, o.HeadDim), new PlanKey(1, 1, 11, 1));
        (plan.Attention.SplitKv, plan.AttentionSplits).Should().Be((true, 5), "1000 groups wanted, 11 keys of at least 2 a split");
        using var layer = standard ? engine.CreateStandardAttentionLayer(o, w, kvCapacity: 30) : engine.CreateLayer(o, w);
        using var session = layer.CreateSession();
        var y = new List<float>(session.Prefill(x.AsSpan(0, 9 * o.ModelDim)));
        for (int t = 9; t < 24; t++)
        {
            y.AddRange(session.Decode(x.AsSpan(t * o.ModelDim, o.ModelDim)));
        }

        if (standard)
        {
            Tolerance.ShouldMatch(y.ToArray(), CausalAttentionReference.Run(o, w, x, includeDiagonal: true), "standard baseline decode with split-KV");
        }
        else
        {
            var reference = new SomaReference(o, w);
            Tolerance.ShouldMatch(y.ToArray(), reference.Run(reference.CreateState(), x), "Soma decode with split-KV");
        }
    }

    /// <summary>Runs cases on one engine; frees what it allocated.</summary>
    private sealed class Runner(SomaEngine engine) : IDisposable
    {
        private readonly TestBuffers buffers = new(engine);

        public void Case(SomaStorageType storage, int window, int perKv, int dh, int splits, bool farField, int seed)
        {
            switch (storage)
            {
                case SomaStorageType.Float16:
                    Case<Float16View>(storage, window, perKv, dh, splits, farField, seed);
                    break;
                case SomaStorageType.BFloat16:
                    Case<BFloat16View>(storage, window, perKv, dh, splits, farField, seed);
                    break;
                default:
                    Case<Float32View>(storage, window, perKv, dh, splits, farField, seed);
                    break;
            }
        }

        public void Dispose() => buffers.Dispose();

        /// <summary>
        /// Two decode rows (sessions in slots 1 and 0; one with a full window, one at an early position, so the window is
        /// clipped at 0), two launches with different queries; the current token's key and value in the chunk.
        /// </summary>
        private void Case<TRing>(SomaStorageType storage, int window, int perKv, int dh, int splits, bool farField, int seed)
            where TRing : struct, IElementView
        {
            int heads = perKv * KvHeads, kv = KvHeads * dh, n = 2;
            string what = $"{storage} W={window} H/Hkv={perKv} dh={dh} splits={splits} far={farField} warp={engine.Device.WarpSize}";
            int[] segSlot = { 1, 0 }, segStart = { 0, 1 }, segLength = { 1, 1 };
            long[] segFirst = { window + 5, Math.Max(0, window / 2 - 1) };
            var k = Stored(TestData.Inputs(kv, n, seed: seed, amplitude: 2), storage);
            var v = Stored(TestData.Inputs(kv, n, seed: seed + 1), storage);
            var ringK = Stored(TestData.Inputs(window * kv, Slots, seed: seed + 2, amplitude: 2), storage);
            var ringV = Stored(TestData.Inputs(window * kv, Slots, seed: seed + 3), storage);
            var fieldPrev = TestData.Inputs(kv, n, seed: seed + 4);
            var alpha = TestData.Inputs(heads, 1, seed: seed + 5);
            var output = buffers.Alloc<float>(n * heads * dh);
            var reference = buffers.Alloc<float>(n * heads * dh);
            var arrivals = buffers.Alloc<int>(n * KvHeads);
            arrivals.View.MemSetToZero(engine.Accelerator.DefaultStream);
            var keyValues = new StoredKeyValues<TRing>
            {
                K = View<TRing>(k.Units), V = View<TRing>(v.Units), RingK = View<TRing>(ringK.Units), RingV = View<TRing>(ringV.Units),
            };
            var seg = new SegmentArgs
            {
                Slot = buffers.Upload(segSlot).View, Start = buffers.Upload(segStart).View, Length = buffers.Upload(segLength).View, Position = buffers.Upload(segFirst).View, Count = n,
            };
            var launcher = engine.Kernels.For<Float32View, TRing>().Attention;
            var decode = engine.Shapes.Attention(n, heads, KvHeads, dh, perKv, window, splits, decode: true, splitKv: true);
            var nearField = engine.Shapes.Attention(n, heads, KvHeads, dh, engine.Shapes.AttentionHeadsPerGroup(perKv, dh), window, 1, splitKv: false);
            decode.SplitKv.Should().BeTrue();
            decode.Tiling.Splits.Should().Be(splits);

            for (int step = 0; step < 2; step++)
            {
                var q = TestData.Inputs(heads * dh, n, seed: seed + 10 + step, amplitude: 2);
                var args = new AttentionArgs
                {
                    Q = buffers.Upload(q).View, FieldPrev = buffers.Upload(fieldPrev).View, Alpha = buffers.Upload(alpha).View, Output = output.View, RowSegment = buffers.Upload(new[] { 0, 1 }).View,
                    Tokens = n, Heads = heads, KvHeads = KvHeads, HeadDim = dh, Window = window, IncludeCurrent = 1, Scale = 0.6f, FarField = farField ? 1 : 0,
                    PartialMax = buffers.Alloc<float>(n * heads * splits).View, PartialSum = buffers.Alloc<float>(n * heads * splits).View,
                    PartialAcc = buffers.Alloc<float>(n * heads * splits * dh).View, Arrivals = arrivals.View,
                };
                launcher.Launch(engine.Accelerator.DefaultStream, decode, args, seg, keyValues);
                launcher.Launch(engine.Accelerator.DefaultStream, nearField, args with { Output = reference.View }, seg, keyValues);
                var actual = buffers.Download(output);
                buffers.Download(arrivals).Should().OnlyContain(c => c == 0, "every (row, kv-head) counter is reset after step {0} ({1})", step, what);
                Tolerance.ShouldMatch(actual, buffers.Download(reference), $"split-KV vs near-field, step {step}, {what}", 1e-5);

                var windows = new WindowAttention(k.Values, v.Values, ringK.Values, ringV.Values, KvHeads, dh, window);
                for (int t = 0; t < n; t++)
                {
                    long p = segFirst[t];
                    for (int h = 0; h < heads; h++)
                    {
                        int g = h / perKv;
                        var far = farField ? fieldPrev.AsSpan(t * kv + g * dh, dh).ToArray().Select(f => alpha[h] * (double)f).ToArray() : null;
                        var expected = windows.Expected(q.AsSpan((t * heads + h) * dh, dh), g, segSlot[t], segStart[t], p, Math.Max(0, p - window + 1), p, 0.6f, far);
                        Tolerance.ShouldMatch(actual.AsSpan((t * heads + h) * dh, dh), expected, $"o[t={t}, h={h}] step {step}, {what}", 1e-5);
                    }
                }
            }
        }

        /// <summary><paramref name="values"/> as <paramref name="type"/> stores them: the device units and the stored values widened (exact).</summary>
        private (DeviceBuffer<ushort> Units, float[] Values) Stored(float[] values, SomaStorageType type)
        {
            var units = new ushort[values.Length * StorageTypes.Units(type)];
            StorageTypes.Encode(values, units, type);
            var stored = new float[values.Length];
            StorageTypes.Decode(units, stored, type);
            return (buffers.Upload(units), stored);
        }

        private static TRing View<TRing>(DeviceBuffer<ushort> units)
            where TRing : struct, IElementView => ElementViews.Of<TRing>(units.View);
    }
}
