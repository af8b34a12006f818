using Soma.Internal;
using Soma.Kernels;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests;

/// <summary>
/// Batched decode (more rows than the GEMV serves, one a session): the projection tile loop with a block of several
/// row tiles a group (<see cref="ProjectionTiling.RowTiles"/>; every staged weight chunk shared by the block's rows)
/// against the reference, on CPU devices of warp sizes 2, 4 and 32, for B = 5, 9, 17 and 64 rows, odd D and M, every
/// weight storage type, the QKV projection with RoPE on and off and the linear and SwiGLU projections, with staged and
/// unstaged weights and with split-K; and the plan of a B = 64 decode step on the H100 and H200 descriptions, whose
/// cost reads each weight once.
/// </summary>
public sealed class BatchedProjectionTests
{
    private static readonly SomaStorageType[] Types = [SomaStorageType.Float32, SomaStorageType.Float16, SomaStorageType.BFloat16];

    private static readonly int[] Batches = [5, 9, 17, 64];

    [Theory]
    [InlineData(2, 8)]
    [InlineData(4, 4)]
    [InlineData(32, 1)]
    public void BatchedProjection_MatchesTheReference_ForEveryBatchWeightTypeAndRope(int warp, int warpsPerGroup)
    {
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu, cpuThreadsPerWarp: warp, cpuWarpsPerGroup: warpsPerGroup));
        int group = engine.Shapes.GroupSize;
        foreach (var type in Types)
        {
            foreach (int rows in Batches)
            {
                CheckQkv(engine, type, rows, rope: true, Batched(rows, group, stageWeights: true, slices: rows % 2 == 0 ? 2 : 1));
                CheckQkv(engine, type, rows, rope: false, Batched(rows, group, stageWeights: rows != 9, slices: 1));
                GemvTests.Check(engine, type, rows, inner: 37, outer: 13, paired: false, Batched(rows, group, stageWeights: true, slices: 1));
                GemvTests.Check(engine, type, rows, inner: 19, outer: 7, paired: true, Batched(rows, group, stageWeights: true, slices: 3));
            }
        }

        engine.AllocatedBuffers.Should().Be(0);
    }

    [Theory]
    [InlineData(nameof(DeviceDescription.H100Sxm))]
    [InlineData(nameof(DeviceDescription.H200))]
    public void DecodeAtBatch64_OnHopperDescription_ReadsEachWeightOnce(string device)
    {
        var description = device == nameof(DeviceDescription.H200) ? DeviceDescription.H200 : DeviceDescription.H100Sxm;
        var o = new SomaLayerOptions(modelDim: 3584, heads: 28, kvHeads: 4, headDim: 128, window: 256, ropeTheta: 1000000.0)
        {
            WeightStorage = SomaStorageType.BFloat16, RingStorage = SomaStorageType.Float16,
        };
        var plan = LaunchPlan.For(description, o, new PlanKey(64, 64, 256, 1));

        // 64 rows = 8 row tiles a block, so one block of rows: each group stages its 16 columns' weights once per
        // chunk of K for all 64 rows (8 sets of 16 threads at 128 threads a group).
        const long n = 64, d = 3584, m = 4608, q = 3584;
        foreach (var (projection, kernel) in new[] { (plan.Qkv, "qkv"), (plan.Output, "linear") })
        {
            projection.Tiling.Gemv.Should().Be(0, "64 rows are past the GEMV's " + Gemv.MaxRows);
            projection.Tiling.RowTiles.Should().Be(8);
            projection.Tiling.BlockRows.Should().Be(64);
            projection.Tiling.StageWeights.Should().Be(1);
            projection.Tiling.WeightReads(n).Should().Be(1, $"the {kernel} projection holds all 64 rows in one block");
            projection.Config.SharedMemoryConfig.ArraySize.Should().Be(projection.Tiling.SharedFloats(128) * sizeof(float));
            (projection.Tiling.SharedFloats(128) * sizeof(float)).Should().BeLessThanOrEqualTo(48 * 1024);
            projection.GroupsPerMultiprocessor.Should().BeGreaterThan(0);
        }

        // The projections' reads: the weights (bf16) once and the activations; the output projection's besides its
        // bias. The QKV's epilogue inputs go with whichever launch runs it (the reduce when split).
        var cost = plan.Cost;
        int Kernel(string name) => KernelCatalog.All.Select(k => k.Name).ToList().IndexOf(name);
        long qkvEpilogue = plan.QkvPartial > 0 ? 0 : cost.KernelBytesRead[Kernel("qkv")] - (4 * (n * d + m) + 2 * d * m);
        cost.KernelBytesRead[Kernel("qkv")].Should().Be(4 * (n * d + m) + 2 * d * m + qkvEpilogue);
        qkvEpilogue.Should().Be(plan.QkvPartial > 0 ? 0 : 8 * n + 8 * 64 + 8 * n * 512 + 4 * 4);
        cost.KernelBytesRead[Kernel("linear")].Should().Be(4 * (n * q + d) + 2 * q * d);

        // The same pass with one row tile a group (what the tile loop did before) reads the weights once per 8 rows.
        var shapes = new LaunchShapes(description);
        var single = shapes.Projection("qkv", 64, (int)d, (int)m, new ProjectionTiling { ChunkK = 64, ColumnsPerThread = 1, KSlices = 1, StageWeights = 1 });
        single.Tiling.WeightReads(n).Should().Be(8);
    }

    /// <summary>A batched tiling of <paramref name="rows"/> rows: a block of the fewest row tiles (a power of two, at most the group size) that hold them, chunks of 5 inputs.</summary>
    private static ProjectionTiling Batched(int rows, int groupSize, bool stageWeights, int slices)
    {
        int tiles = 1;
        while (tiles * Projection.TileRows < rows && tiles < groupSize)
        {
            tiles *= 2;
        }

        return new ProjectionTiling { ChunkK = 5, ColumnsPerThread = 1, KSlices = slices, StageWeights = stageWeights ? 1 : 0, RowTiles = tiles };
    }

    /// <summary>
    /// q, rotated k, raw k and v of <paramref name="rows"/> rows (positions spread past 2^12) through the fused QKV
    /// projection with <paramref name="tiling"/>, RoPE angles computed in the epilogue (a decode pass), against the
    /// reference of the stored weights; D = 11, M = (3 + 2) x 6 = 30.
    /// </summary>
    private static void CheckQkv(SomaEngine engine, SomaStorageType type, int rows, bool rope, ProjectionTiling tiling)
    {
        var o = new SomaLayerOptions(11, 3, 1, 6, window: 3, ropeTheta: rope ? 10000.0 : null);
        var w = TestData.Weights(o, seed: rows + (int)type, biases: true);
        foreach (var matrix in new[] { w.Wq, w.Wk, w.Wv })
        {
            for (int i = 0; i < matrix.Length; i++)
            {
                matrix[i] = StorageTypes.Round(matrix[i], type);
            }
        }

        int dh = o.HeadDim, q = o.Heads * dh, kv = o.KvHeads * dh, m = q + 2 * kv, d = o.ModelDim;
        var x = TestData.Inputs(d, rows, seed: rows + 11);
        var positions = Enumerable.Range(0, rows).Select(i => 4093L + 7 * i).ToArray();
        var weight = w.Wq.Concat(w.Wk).Concat(w.Wv).ToArray();
        var bias = w.Bq!.Concat(w.Bk!).Concat(w.Bv!).ToArray();
        var units = new ushort[weight.Length * StorageTypes.Units(type)];
        StorageTypes.Encode(weight, units, type);
        var inverse = Enumerable.Range(0, dh / 2).Select(j => Math.Pow(10000.0, -2.0 * j / dh)).ToArray();
        var stream = engine.Accelerator.DefaultStream;
        var launch = engine.Shapes.Projection("qkv", rows, d, m, tiling);
        using var xs = Upload(engine, x);
        using var stored = Upload(engine, units);
        using var bs = Upload(engine, bias);
        using var ps = Upload(engine, positions);
        using var inv = Upload(engine, inverse);
        using var partial = engine.Allocate<float>(launch.Tiling.KSlices * rows * m);
        using var qOut = engine.Allocate<float>(rows * q);
        using var kRot = engine.Allocate<float>(rows * kv);
        using var kRaw = engine.Allocate<float>(rows * kv);
        using var v = engine.Allocate<float>(rows * kv);
        var epilogue = new BiasRopeEpilogue<Float32View>
        {
            Bias = bs.View, Positions = ps.View, InverseFrequencies = inv.View, Q = qOut.View, KRotated = new() { View = kRot.View },
            KRaw = kRaw.View, V = new() { View = v.View }, Heads = o.Heads, KvHeads = o.KvHeads, HeadDim = dh, Rope = rope ? 1 : 0, Angles = 1,
        };
        var operands = new ProjectionArgs { X = xs.View, Rows = rows, Inner = d, Outer = m, Partial = partial.View };
        switch (type)
        {
            case SomaStorageType.Float16:
                engine.Kernels.For<Float16View, Float32View>().Qkv.Launch(stream, launch, operands, ElementViews.Of<Float16View>(stored.View), epilogue);
                break;
            case SomaStorageType.BFloat16:
                engine.Kernels.For<BFloat16View, Float32View>().Qkv.Launch(stream, launch, operands, ElementViews.Of<BFloat16View>(stored.View), epilogue);
                break;
            default:
                engine.Kernels.For<Float32View, Float32View>().Qkv.Launch(stream, launch, operands, ElementViews.Of<Float32View>(stored.View), epilogue);
                break;
        }

        var (qs, krs, kraws, vs) = (Download(engine, qOut), Download(engine, kRot), Download(engine, kRaw), Download(engine, v));
        for (int t = 0; t < rows; t++)
        {
            var e = ReferenceMath.Project(o, w, x.AsSpan(t * d, d), positions[t]);
            string what = $"row {t} of {rows}, {type}, rope {rope}, warp {engine.Device.WarpSize}, tiling {tiling}";
            Tolerance.ShouldMatch(qs.AsSpan(t * q, q), e.Q, $"q, {what}", 1e-5);
            Tolerance.ShouldMatch(krs.AsSpan(t * kv, kv), e.KRotated, $"k rotated, {what}", 1e-5);
            Tolerance.ShouldMatch(kraws.AsSpan(t * kv, kv), e.KRaw, $"k raw, {what}", 1e-5);
            Tolerance.ShouldMatch(vs.AsSpan(t * kv, kv), e.V, $"v, {what}", 1e-5);
        }
    }

    private static DeviceBuffer<T> Upload<T>(SomaEngine engine, T[] values)
        where T : unmanaged
    {
        var buffer = engine.Allocate<T>(values.Length);
        buffer.Upload(engine.Accelerator.DefaultStream, values);
        return buffer;
    }

    private static float[] Download(SomaEngine engine, DeviceBuffer<float> buffer)
    {
        var values = new float[buffer.Length];
        buffer.Download(engine.Accelerator.DefaultStream, values);
        engine.Accelerator.DefaultStream.Synchronize();
        return values;
    }
}
