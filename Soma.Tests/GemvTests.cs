using Soma.Internal;
using Soma.Kernels;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests;

/// <summary>
/// The decode GEMV (a warp per output row of W[M, K]) against the reference on CPU devices of warp sizes 2, 4 and 32
/// (ILGPU's CPU accelerator has no warp of 1 thread; the reduction's loop simply runs no step there): one to four
/// rows, odd K and K = 4 mod 8 (the per-element path), K a multiple of 8 (the 8-element loads, with and without a full
/// unrolled step of four loads per lane at warp size 32), odd M, every weight storage type, alone and with a paired
/// (SwiGLU) partner row; and the plans of a decode step: the GEMV, never split.
/// </summary>
public sealed class GemvTests
{
    private static readonly SomaStorageType[] Types = [SomaStorageType.Float32, SomaStorageType.Float16, SomaStorageType.BFloat16];

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(32)]
    public void Gemv_MatchesTheReference_ForEveryRowCountWidthAndWeightType(int warp)
    {
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu, cpuThreadsPerWarp: warp, cpuWarpsPerGroup: 2));
        foreach (var type in Types)
        {
            foreach (int inner in new[] { 37, 131, 132, 136, 1032 })
            {
                for (int rows = 1; rows <= Gemv.MaxRows; rows++)
                {
                    Check(engine, type, rows, inner, outer: 13, paired: false);
                }

                Check(engine, type, Gemv.MaxRows, inner, outer: 10, paired: true);
            }
        }
    }

    [Theory]
    [InlineData(nameof(DeviceDescription.H100Sxm))]
    [InlineData(nameof(DeviceDescription.H200))]
    public void DecodeStepAtBatchOne_PlansTheGemv_WithoutSplitKOrReduceLaunches(string device)
    {
        var o = new SomaLayerOptions(modelDim: 3584, heads: 28, kvHeads: 4, headDim: 128, window: 256, ropeTheta: 1000000.0);
        var description = device == nameof(DeviceDescription.H200) ? DeviceDescription.H200 : DeviceDescription.H100Sxm;
        for (int rows = 1; rows <= Gemv.MaxRows; rows++)
        {
            var plan = LaunchPlan.For(description, o, new PlanKey(rows, rows, 256, 1));
            foreach (var projection in new[] { plan.Qkv, plan.Output })
            {
                projection.Tiling.Gemv.Should().Be(1, $"{rows} rows take the decode GEMV");
                projection.IsSplit.Should().BeFalse($"the GEMV at {rows} rows splits no K");
                projection.PartialFloats.Should().Be(0);
            }

            var launched = KernelCatalog.All.Where((_, i) => plan.Cost.Launches[i] > 0).Select(k => k.Name).ToArray();
            launched.Should().Contain(["qkv-gemv", "linear-gemv"]).And.NotContain(["qkv-reduce", "linear-reduce"]);
        }

        var shapes = new LaunchShapes(description);
        foreach (var (kernel, inner, outer) in new[] { ("gate-up", 3584, 2 * 18944), ("down", 18944, 3584), ("linear", 3584, 152064) })
        {
            var launch = shapes.Projection(kernel, 1, inner, outer);
            launch.Tiling.Gemv.Should().Be(1);
            launch.IsSplit.Should().BeFalse();
            launch.PartialFloats.Should().Be(0);
        }
    }

    /// <summary>
    /// y = x W^T (+ bias) through the GEMV of <paramref name="engine"/> (or the projection <paramref name="tiling"/>
    /// forces) against the reference of the stored weights; <paramref name="paired"/>: gate|up with SwiGLU.
    /// </summary>
    internal static void Check(SomaEngine engine, SomaStorageType type, int rows, int inner, int outer, bool paired, ProjectionTiling? tiling = null)
    {
        int seed = rows * 1000 + inner + (paired ? 7 : 0);
        int weightRows = paired ? 2 * outer : outer;
        var x = TestData.Inputs(inner, rows, seed: seed);
        var weight = TestData.Inputs(inner, weightRows, seed: seed + 1).Select(f => StorageTypes.Round(f, type)).ToArray(); // [rows of W, K]
        var bias = TestData.Inputs(outer, 1, seed: seed + 2);
        var units = new ushort[weight.Length * StorageTypes.Units(type)];
        StorageTypes.Encode(weight, units, type);
        var stream = engine.Accelerator.DefaultStream;
        using var xs = engine.Allocate<float>(x.Length);
        using var stored = engine.Allocate<ushort>(units.Length);
        using var bs = engine.Allocate<float>(bias.Length);
        using var y = engine.Allocate<float>(rows * outer);
        xs.Upload(stream, x);
        stored.Upload(stream, units);
        bs.Upload(stream, bias);
        var chosen = tiling ?? new ProjectionTiling { ChunkK = 1, ColumnsPerThread = 1, KSlices = 1, Gemv = 1 };
        var launch = engine.Shapes.Projection(paired ? "gate-up" : "linear", rows, inner, weightRows, chosen);
        using var partial = engine.Allocate<float>(Math.Max(1, launch.Tiling.KSlices * rows * weightRows));
        var operands = new ProjectionArgs { X = xs.View, Rows = rows, Inner = inner, Outer = weightRows, Partial = partial.View };
        switch (type)
        {
            case SomaStorageType.Float16: Launch<Float16View>(); break;
            case SomaStorageType.BFloat16: Launch<BFloat16View>(); break;
            default: Launch<Float32View>(); break;
        }

        var actual = new float[rows * outer];
        y.Download(stream, actual);
        stream.Synchronize();
        for (int r = 0; r < rows; r++)
        {
            var xd = x.AsSpan(r * inner, inner).ToArray().Select(f => (double)f).ToArray();
            var expected = paired
                ? SwiGlu(ReferenceMath.Linear(weight[..(outer * inner)], null, xd, outer), ReferenceMath.Linear(weight[(outer * inner)..], null, xd, outer))
                : ReferenceMath.Linear(weight, bias, xd, outer);
            Tolerance.ShouldMatch(
                actual.AsSpan(r * outer, outer), expected, $"y[{r}] of {rows} rows, K {inner}, {type}, warp {engine.Device.WarpSize}, paired {paired}, tiling {chosen}", 1e-5);
        }

        void Launch<TW>()
            where TW : struct, IElementView
        {
            var view = ElementViews.Of<TW>(stored.View);
            if (paired)
            {
                engine.Kernels.Decoder.For<TW>().GateUp.Launch(stream, launch, operands, view, new SwiGluEpilogue { Act = y.View, Inner = outer });
            }
            else
            {
                engine.Kernels.For<TW, Float32View>().Linear.Launch(stream, launch, operands, view, new BiasEpilogue { Bias = bs.View, Y = y.View, Outer = outer });
            }
        }
    }

    private static double[] SwiGlu(double[] gate, double[] up) => gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();
}
