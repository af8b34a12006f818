using ILGPU;
using ILGPU.Runtime;
using Soma;
using Soma.Internal;
using Soma.Kernels;
using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Suites;

/// <summary>Each kernel alone against the reference math, with odd sizes and launch shapes from the engine.</summary>
public abstract class KernelSuite : IDisposable
{
    private readonly TestBuffers buffers;

    protected KernelSuite(AcceleratorFixture fixture)
    {
        Engine = fixture.Engine;
        buffers = new TestBuffers(Engine);
    }

    protected SomaEngine Engine { get; }

    /// <summary>The host's tiling for this accelerator, and the other code paths forced: staged rows, K-chunks (with or without staged weight tiles), split-K, the decode GEMV.</summary>
    internal static ProjectionTiling? Tiling(string kind, int inner) => kind switch
    {
        "staged" => new ProjectionTiling { ChunkK = inner, ColumnsPerThread = 3, KSlices = 1 },
        "chunked" => new ProjectionTiling { ChunkK = 5, ColumnsPerThread = 1, KSlices = 1 },
        "split" => new ProjectionTiling { ChunkK = 2, ColumnsPerThread = 1, KSlices = 3 },
        "chunked-weights" => new ProjectionTiling { ChunkK = 5, ColumnsPerThread = 1, KSlices = 1, StageWeights = 1 },
        "split-weights" => new ProjectionTiling { ChunkK = 3, ColumnsPerThread = 1, KSlices = 2, StageWeights = 1 },
        "gemv" => new ProjectionTiling { ChunkK = 1, ColumnsPerThread = 1, KSlices = 1, Gemv = 1 },
        _ => null,
    };

    /// <summary>Whether <paramref name="kind"/> forces the GEMV (at most <see cref="Gemv.MaxRows"/> rows).</summary>
    private static bool IsGemv(string kind) => kind == "gemv";

    [Theory]
    [InlineData(true, 0L, "host")]
    [InlineData(true, 999_993L, "host")]
    [InlineData(false, 17L, "host")]
    [InlineData(true, 40_001L, "staged")]
    [InlineData(true, 40_001L, "chunked")]
    [InlineData(false, 3L, "chunked")]
    [InlineData(true, 12L, "split")]
    [InlineData(false, 12L, "split")]
    [InlineData(true, 12L, "chunked-weights")]
    [InlineData(true, 12L, "split-weights")]
    [InlineData(true, 40_001L, "gemv")]
    [InlineData(false, 12L, "gemv")]
    public void RopeTableAndQkvProjection_MatchReferenceProjection(bool rope, long firstPosition, string tiling)
    {
        var o = new SomaLayerOptions(11, 4, 2, 6, window: 3, ropeTheta: rope ? 10000.0 : null);
        var w = TestData.Weights(o, seed: 3, biases: true);
        int n = IsGemv(tiling) ? 3 : 7;
        int dh = o.HeadDim, half = dh / 2, q = o.Heads * dh, kv = o.KvHeads * dh, m = q + 2 * kv, d = o.ModelDim;
        var x = TestData.Inputs(d, n, seed: 4);
        var positions = Enumerable.Range(0, n).Select(i => firstPosition + 3 * i).ToArray();
        var (weight, bias) = FusedQkv(o, w);
        var inv = InverseFrequencies(dh);
        var cos = Alloc<float>(n * half);
        var sin = Alloc<float>(n * half);
        var qOut = Alloc<float>(n * q);
        var kRot = Alloc<float>(n * kv);
        var kRaw = Alloc<float>(n * kv);
        var v = Alloc<float>(n * kv);
        var stream = Engine.Accelerator.DefaultStream;
        var shapes = Engine.Shapes;
        var table = new RopeTableArgs { Positions = Upload(positions).View, InverseFrequencies = Upload(inv).View, Cos = cos.View, Sin = sin.View, Tokens = n, Half = half };
        Engine.Kernels.RopeTable.Launch(stream, shapes.Elements("rope-table", n * half), table);
        var launch = shapes.Projection("qkv", n, d, m, Tiling(tiling, d));
        var epilogue = new BiasRopeEpilogue<Float32View>
        {
            Bias = Upload(bias).View, Cos = cos.View, Sin = sin.View, Q = qOut.View, KRotated = new() { View = kRot.View }, KRaw = kRaw.View,
            V = new() { View = v.View },
            Heads = o.Heads, KvHeads = o.KvHeads, HeadDim = dh, Rope = rope ? 1 : 0,
        };
        var operands = new ProjectionArgs
        {
            X = Upload(x).View, Rows = n, Inner = d, Outer = m, Partial = Alloc<float>(launch.Tiling.KSlices * n * m).View,
        };
        Engine.Kernels.Float32.Qkv.Launch(stream, launch, operands, new Float32View { View = Upload(weight).View }, epilogue);

        var (qs, krs, kraws, vs) = (Download(qOut), Download(kRot), Download(kRaw), Download(v));
        for (int t = 0; t < n; t++)
        {
            var e = ReferenceMath.Project(o, w, x.AsSpan(t * d, d), positions[t]);
            Tolerance.ShouldMatch(qs.AsSpan(t * q, q), e.Q, $"q[t={t}]", 1e-5);
            Tolerance.ShouldMatch(krs.AsSpan(t * kv, kv), e.KRotated, $"k rotated[t={t}]", 1e-5);
            Tolerance.ShouldMatch(kraws.AsSpan(t * kv, kv), e.KRaw, $"k raw[t={t}]", 1e-5);
            Tolerance.ShouldMatch(vs.AsSpan(t * kv, kv), e.V, $"v[t={t}]", 1e-5);
        }
    }

    /// <summary>The fused QKV weights W [M, D] (the Wq, Wk and Wv rows stacked) and bias [M] of <paramref name="w"/>, as the layer uploads them.</summary>
    private static (float[] Weight, float[] Bias) FusedQkv(SomaLayerOptions o, SomaLayerWeights w)
    {
        int d = o.ModelDim, q = o.Heads * o.HeadDim, kv = o.KvHeads * o.HeadDim, m = q + 2 * kv;
        var weight = new float[m * d];
        var bias = new float[m];
        for (int c = 0; c < m; c++)
        {
            var (source, row, b) = c < q ? (w.Wq, c, w.Bq!) : c < q + kv ? (w.Wk, c - q, w.Bk!) : (w.Wv, c - q - kv, w.Bv!);
            bias[c] = b[row];
            for (int k = 0; k < d; k++)
            {
                weight[c * d + k] = source[row * d + k];
            }
        }

        return (weight, bias);
    }

    /// <summary>RoPE inverse frequencies theta^(-2j/dh) for theta = 10000.</summary>
    private static double[] InverseFrequencies(int headDim) =>
        Enumerable.Range(0, headDim / 2).Select(j => Math.Pow(10000.0, -2.0 * j / headDim)).ToArray();

    /// <summary>
    /// A decode pass's QKV epilogue computes the RoPE angles and takes the field's step itself; its q, rotated k, v
    /// (in the ring's type), field before the row and field after it equal, bit for bit, those of the table launch,
    /// the epilogue reading the table, and the field scan over one-row segments (the path a prefill pass takes), for odd
    /// dh/2, positions near 2^20, every ring type and every projection path (the split-K reduce runs the epilogue too).
    /// </summary>
    [Theory]
    [InlineData(6, 0L, "host", SomaStorageType.Float32)]
    [InlineData(10, (1L << 20) - 2, "host", SomaStorageType.Float16)]
    [InlineData(6, (1L << 20) + 7, "split", SomaStorageType.BFloat16)]
    [InlineData(10, 999_999L, "chunked", SomaStorageType.Float32)]
    [InlineData(8, (1L << 20) - 1, "gemv", SomaStorageType.Float16)]
    [InlineData(8, (1L << 20) + 3, "split-weights", SomaStorageType.BFloat16)]
    public void DecodeEpilogue_AnglesAndFieldStep_EqualTheTableAndTheScan_BitForBit(int headDim, long firstPosition, string tiling, SomaStorageType ring)
    {
        switch (ring)
        {
            case SomaStorageType.Float16:
                FusedEqualsTableAndScan<Float16View>(headDim, firstPosition, tiling);
                break;
            case SomaStorageType.BFloat16:
                FusedEqualsTableAndScan<BFloat16View>(headDim, firstPosition, tiling);
                break;
            default:
                FusedEqualsTableAndScan<Float32View>(headDim, firstPosition, tiling);
                break;
        }
    }

    private void FusedEqualsTableAndScan<TRing>(int headDim, long firstPosition, string tiling)
        where TRing : struct, IElementView
    {
        var o = new SomaLayerOptions(11, 4, 2, headDim, window: 3, ropeTheta: 10000.0);
        var w = TestData.Weights(o, seed: 23, biases: true);
        const int n = 3; // three sessions' decode rows: one row per segment
        int dh = o.HeadDim, half = dh / 2, q = o.Heads * dh, kv = o.KvHeads * dh, m = q + 2 * kv, d = o.ModelDim;
        int units = typeof(TRing) == typeof(Float32View) ? 2 : 1;
        int[] slots = { 2, 0, 1 };
        long[] positions = { firstPosition, firstPosition + 5, firstPosition + 11 };
        var (weight, bias) = FusedQkv(o, w);
        var x = Upload(TestData.Inputs(d, n, seed: 24)).View;
        var weights = new Float32View { View = Upload(weight).View };
        var fieldHost = Array.ConvertAll(TestData.Inputs(kv, 3, seed: 25), f => 100.0 * f + 1e-9 * f);
        var field = Upload(fieldHost).View;
        var gamma = Upload(new[] { 0.5f, 0.99999f }).View;
        var seg = Segments(slots, new[] { 0, 1, 2 }, new[] { 1, 1, 1 }, positions);
        var stream = Engine.Accelerator.DefaultStream;
        var launch = Engine.Shapes.Projection("qkv", n, d, m, Tiling(tiling, d));
        var operands = new ProjectionArgs { X = x, Rows = n, Inner = d, Outer = m, Partial = Alloc<float>(launch.Tiling.KSlices * n * m).View };
        var kernels = Engine.Kernels.For<Float32View, TRing>();

        // Each path's outputs: q, rotated k and v (raw units of the ring's type), field before the row, field after it.
        DeviceBuffer<float> qOut() => Alloc<float>(n * q);
        DeviceBuffer<ushort> ringRows() => Alloc<ushort>(n * kv * units);
        BiasRopeEpilogue<TRing> Epilogue(DeviceBuffer<float> qs, DeviceBuffer<ushort> k, DeviceBuffer<ushort> v) => new()
        {
            Bias = Upload(bias).View, Q = qs.View, KRotated = ElementViews.Of<TRing>(k.View), V = ElementViews.Of<TRing>(v.View),
            KRaw = Alloc<float>(n * kv).View, Heads = o.Heads, KvHeads = o.KvHeads, HeadDim = dh, Rope = 1,
        };

        // The table and scan path.
        var (qA, kA, vA, prevA, finalA) = (qOut(), ringRows(), ringRows(), Alloc<float>(n * kv), Alloc<double>(n * kv));
        var (cos, sin) = (Alloc<float>(n * half), Alloc<float>(n * half));
        var table = new RopeTableArgs
        {
            Positions = Upload(positions).View, InverseFrequencies = Upload(InverseFrequencies(dh)).View, Cos = cos.View, Sin = sin.View, Tokens = n, Half = half,
        };
        Engine.Kernels.RopeTable.Launch(stream, Engine.Shapes.Elements("rope-table", n * half), table);
        var rawA = Alloc<float>(n * kv);
        kernels.Qkv.Launch(stream, launch, operands, weights, Epilogue(qA, kA, vA) with { Cos = cos.View, Sin = sin.View, KRaw = rawA.View });
        var scan = new FieldScanArgs { Segments = seg, Field = field, Gamma = gamma, KRaw = rawA.View, Prev = prevA.View, Final = finalA.View, Channels = kv, HeadDim = dh };
        Engine.Kernels.FieldScan.Launch(stream, Engine.Shapes.GroupsWithDoubles("field-scan", n * kv, FieldScan.SharedDoubles(Engine.Shapes.GroupSize)), scan);

        // The decode pass's fused epilogue.
        var (qB, kB, vB, prevB, finalB) = (qOut(), ringRows(), ringRows(), Alloc<float>(n * kv), Alloc<double>(n * kv));
        var fused = Epilogue(qB, kB, vB) with
        {
            Positions = table.Positions, InverseFrequencies = table.InverseFrequencies, Angles = 1, FieldStep = 1, RowSegment = Upload(new[] { 0, 1, 2 }).View,
            Slot = seg.Slot, Field = field, Gamma = gamma, FieldPrev = prevB.View, FieldFinal = finalB.View,
        };
        kernels.Qkv.Launch(stream, launch, operands, weights, fused);

        Download(qB).Should().Equal(Download(qA), "q rotated by angles computed in the epilogue");
        Download(kB).Should().Equal(Download(kA), "rotated k in the ring's type");
        Download(vB).Should().Equal(Download(vA));
        Download(prevB).Should().Equal(Download(prevA), "the field before each row");
        Download(finalB).Should().Equal(Download(finalA), "the field after each one-row segment");

        // And the step is the recurrence: S' = gamma S + (1 - gamma) k from the slot's state, attention's copy rounded to fp32.
        var (state, kRaw, finals, prevs) = (fieldHost, Download(rawA), Download(finalB), Download(prevB));
        for (int t = 0; t < n; t++)
        {
            for (int c = 0; c < kv; c++)
            {
                double g = c < dh ? 0.5f : 0.99999f, s = state[slots[t] * kv + c];
                prevs[t * kv + c].Should().Be((float)s);
                finals[t * kv + c].Should().BeApproximately(g * s + (1 - g) * kRaw[t * kv + c], 1e-12 * (1 + Math.Abs(s)));
            }
        }
    }

    [Theory]
    [InlineData("host", SomaStorageType.Float32)]
    [InlineData("staged", SomaStorageType.Float32)]
    [InlineData("chunked", SomaStorageType.Float32)]
    [InlineData("split", SomaStorageType.Float32)]
    [InlineData("chunked-weights", SomaStorageType.Float32)]
    [InlineData("split-weights", SomaStorageType.BFloat16)]
    [InlineData("gemv", SomaStorageType.Float32)]
    [InlineData("chunked", SomaStorageType.Float16)]
    [InlineData("gemv", SomaStorageType.Float16)]
    [InlineData("staged", SomaStorageType.BFloat16)]
    [InlineData("gemv", SomaStorageType.BFloat16)]
    public void Linear_MatchesReferenceLinear_OfTheStoredWeights(string tiling, SomaStorageType weightType)
    {
        const int inner = 13;
        int rows = IsGemv(tiling) ? 3 : 9, outer = IsGemv(tiling) ? 12 : 10;
        var x = TestData.Inputs(inner, rows, seed: 5);
        var weight = TestData.Inputs(inner, outer, seed: 6).Select(f => StorageTypes.Round(f, weightType)).ToArray(); // [outer, inner], as stored
        var bias = TestData.Inputs(outer, 1, seed: 7);
        var y = Alloc<float>(rows * outer);
        var shapes = Engine.Shapes;
        var launch = shapes.Projection("linear", rows, inner, outer, Tiling(tiling, inner));
        var operands = new ProjectionArgs
        {
            X = Upload(x).View, Rows = rows, Inner = inner, Outer = outer,
            Partial = Alloc<float>(launch.Tiling.KSlices * rows * outer).View,
        };
        var units = new ushort[weight.Length * StorageTypes.Units(weightType)];
        StorageTypes.Encode(weight, units, weightType);
        var stored = Upload(units).View;
        var epilogue = new BiasEpilogue { Bias = Upload(bias).View, Y = y.View, Outer = outer };
        var stream = Engine.Accelerator.DefaultStream;
        void Launch<TW>()
            where TW : struct, IElementView =>
            Engine.Kernels.For<TW, Float32View>().Linear.Launch(stream, launch, operands, ElementViews.Of<TW>(stored), epilogue);

        switch (weightType)
        {
            case SomaStorageType.Float16: Launch<Float16View>(); break;
            case SomaStorageType.BFloat16: Launch<BFloat16View>(); break;
            default: Launch<Float32View>(); break;
        }

        var actual = Download(y);
        for (int r = 0; r < rows; r++)
        {
            var xd = x.AsSpan(r * inner, inner).ToArray().Select(f => (double)f).ToArray();
            Tolerance.ShouldMatch(actual.AsSpan(r * outer, outer), ReferenceMath.Linear(weight, bias, xd, outer), $"y[{r}]", 1e-5);
        }
    }

    [Fact]
    public void GemvOctetLoads_WidenEveryFiniteFp16Pattern_Exactly()
    {
        // W [8192, 8] holds all 65536 fp16 patterns (infinities and NaNs replaced by zero); x rows are one-hot, so each
        // output is one weight widened by the GEMV's 8-element load (subnormals included): equal to StorageBits.FromHalf.
        const int inner = 8, outer = 65536 / inner;
        var bits = Enumerable.Range(0, 65536).Select(b => (b & 0x7C00) == 0x7C00 ? (ushort)0 : (ushort)b).ToArray();
        var y = Alloc<float>(4 * outer);
        var launch = Engine.Shapes.Projection("linear", 4, inner, outer, Tiling("gemv", inner));
        var stream = Engine.Accelerator.DefaultStream;
        var weight = new Float16View { View = Upload(bits).View };
        var epilogue = new BiasEpilogue { Bias = Alloc<float>(outer).View, Y = y.View, Outer = outer };
        epilogue.Bias.MemSetToZero(stream);
        for (int k0 = 0; k0 < inner; k0 += 4)
        {
            var x = new float[4 * inner];
            for (int r = 0; r < 4; r++)
            {
                x[r * inner + k0 + r] = 1f;
            }

            var operands = new ProjectionArgs { X = Upload(x).View, Rows = 4, Inner = inner, Outer = outer };
            Engine.Kernels.For<Float16View, Float32View>().Linear.Launch(stream, launch, operands, weight, epilogue);
            var actual = Download(y);
            for (int r = 0; r < 4; r++)
            {
                var expected = Enumerable.Range(0, outer).Select(c => StorageBits.FromHalf(bits[c * inner + k0 + r]));
                actual.AsSpan(r * outer, outer).ToArray().Should().Equal(expected, $"W[:, {k0 + r}] widened");
            }
        }
    }

    [Theory]
    [InlineData("host")]
    [InlineData("split")]
    [InlineData("chunked-weights")]
    [InlineData("split-weights")]
    [InlineData("gemv")]
    public void MlpProjections_MatchReferenceSwiGluAndResidual(string tiling)
    {
        // A whole decoder's MLP on the projection kernels (tile loop or decode GEMV, split-K or not): gate|up as one
        // projection writing silu(gate) * up, then down adding into the residual stream h.
        const int d = 12, mlp = 8, rows = 3;
        var x = TestData.Inputs(d, rows, seed: 11);
        var gateUp = TestData.Inputs(d, 2 * mlp, seed: 12); // [2I, D]: gate rows, then up rows
        var down = TestData.Inputs(mlp, d, seed: 13); // [D, I]
        var h0 = TestData.Inputs(d, rows, seed: 14);
        var act = Alloc<float>(rows * mlp);
        var h = Upload(h0);
        var stream = Engine.Accelerator.DefaultStream;
        var k = Engine.Kernels.Decoder.Float32;
        var first = Engine.Shapes.Projection("gate-up", rows, d, 2 * mlp, Tiling(tiling, d));
        k.GateUp.Launch(stream, first, new ProjectionArgs
        {
            X = Upload(x).View, Rows = rows, Inner = d, Outer = 2 * mlp,
            Partial = Alloc<float>(first.Tiling.KSlices * rows * 2 * mlp).View,
        }, new Float32View { View = Upload(gateUp).View }, new SwiGluEpilogue { Act = act.View, Inner = mlp });
        var second = Engine.Shapes.Projection("down", rows, mlp, d, Tiling(tiling, mlp));
        k.Down.Launch(stream, second, new ProjectionArgs
        {
            X = act.View, Rows = rows, Inner = mlp, Outer = d,
            Partial = Alloc<float>(second.Tiling.KSlices * rows * d).View,
        }, new Float32View { View = Upload(down).View }, new ResidualEpilogue { H = h.View, Outer = d });

        var actual = Download(act);
        var actualH = Download(h);
        for (int r = 0; r < rows; r++)
        {
            var xd = x.AsSpan(r * d, d).ToArray().Select(f => (double)f).ToArray();
            var gate = ReferenceMath.Linear(gateUp[..(mlp * d)], null, xd, mlp);
            var up = ReferenceMath.Linear(gateUp[(mlp * d)..], null, xd, mlp);
            var expected = gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();
            Tolerance.ShouldMatch(actual.AsSpan(r * mlp, mlp), expected, $"act[{r}]", 1e-5);
            var added = ReferenceMath.Linear(down, null, expected, d).Select((v, c) => h0[r * d + c] + v).ToArray();
            Tolerance.ShouldMatch(actualH.AsSpan(r * d, d), added, $"h[{r}]", 1e-5);
        }
    }

    [Fact]
    public void GumbelArgmax_DrawsFromTheSoftmax_AndRepeatsForASeed()
    {
        // 20000 draws (one per row, draw steps 0..19999) over a 5-token vocabulary at T = 0.7: the counts must match
        // softmax(logits / T) (chi-square, 4 degrees of freedom, bound 30: p ~ 5e-6 for a fair sampler; fixed seed, so
        // deterministic), the same seed must give the same draws, and noise off must give the plain argmax.
        const int rows = 20000, v = 5;
        float[] row = [0.3f, -1.2f, 1.1f, 0.9f, -0.4f];
        const double t = 0.7;
        var logits = Upload(Enumerable.Range(0, rows).SelectMany(_ => row).ToArray());
        var index = Alloc<int>(rows);
        var k = Engine.Kernels.Decoder;
        var stream = Engine.Accelerator.DefaultStream;
        var groups = Engine.Shapes.Groups("argmax", rows, 2 * Engine.Shapes.GroupSize);
        int[] Draw(long seed, int noise)
        {
            k.Argmax(stream, groups, logits.View, index.View, rows, v, (float)(1 / t), seed, 0, noise);
            return Download(index);
        }

        var first = Draw(7, 1);
        var counts = new double[v];
        foreach (int c in first)
        {
            counts[c]++;
        }

        var weights = row.Select(l => Math.Exp(l / t)).ToArray();
        double chi = weights.Select((w, c) => w / weights.Sum() * rows).Select((e, c) => (counts[c] - e) * (counts[c] - e) / e).Sum();
        chi.Should().BeLessThan(30, $"the draws' counts {string.Join(", ", counts)} follow softmax(logits / T)");
        Draw(7, 1).Should().Equal(first, "the same seed and steps draw the same tokens");
        Draw(8, 1).Should().NotEqual(first, "another seed draws other tokens");
        Draw(7, 0).Should().OnlyContain(c => c == 2, "without noise the kernel is the argmax");
    }

    [Theory]
    [InlineData(4, new[] { 1, 2, 5, 0 })]
    [InlineData(6, new[] { 1, 2, 5, 0, 4, 0 })]
    public void TopK_SelectsTheLargest_InValueThenIndexOrder_NeverNaN(int k, int[] expected)
    {
        // Two rows (the second the first reversed); ties in index order, -inf only after every finite value, NaN never
        // chosen, and past the valid values -inf with id 0.
        float[] row = [1f, 3f, 3f, float.NaN, float.NegativeInfinity, 2f];
        var logits = Upload(row.Concat(row.Reverse()).ToArray());
        var values = Alloc<float>(2 * k);
        var index = Alloc<int>(2 * k);
        Engine.Kernels.Decoder.TopK(Engine.Accelerator.DefaultStream, Engine.Shapes.Groups("top-k", 2, 2 * Engine.Shapes.GroupSize + 2), logits.View, values.View, index.View, 2, row.Length, k);

        var ids = Download(index);
        var tops = Download(values);
        ids[..k].Should().Equal(expected);
        ids[k..].Should().Equal(new[] { 3, 4, 0, 5, 1, 0 }[..k], "the reversed row: [2, -inf, NaN, 3, 3, 1]");
        tops[..k].Should().Equal(expected.Select((id, j) => j < 5 ? row[id] : float.NegativeInfinity));
    }

    [Fact]
    public void FieldScan_MatchesTheSequentialRecurrenceInDouble_ForSegmentsOfManyLengths()
    {
        const int kvHeads = 4, dh = 5, channels = kvHeads * dh;
        int[] lengths = { 1, 7, 37, 2, 3000 };
        int[] slots = { 2, 0, 3, 4, 1 };
        float[] gamma = { 0f, 0.5f, 0.999f, 0.99999f };
        int n = lengths.Sum();
        var starts = new int[lengths.Length];
        for (int s = 1; s < lengths.Length; s++)
        {
            starts[s] = starts[s - 1] + lengths[s - 1];
        }

        var kRaw = TestData.Inputs(channels, n, seed: 8);
        var field = Array.ConvertAll(TestData.Inputs(channels, slots.Length, seed: 9), f => (double)f);
        var prev = Alloc<float>(n * channels);
        var final = Alloc<double>(lengths.Length * channels);
        var seg = Segments(slots, starts, lengths, new long[lengths.Length]);
        var scan = new FieldScanArgs
        {
            Segments = seg, Field = Upload(field).View, Gamma = Upload(gamma).View, KRaw = Upload(kRaw).View, Prev = prev.View, Final = final.View,
            Channels = channels, HeadDim = dh,
        };
        Engine.Kernels.FieldScan.Launch(
            Engine.Accelerator.DefaultStream, Engine.Shapes.GroupsWithDoubles("field-scan", lengths.Length * channels, FieldScan.SharedDoubles(Engine.Shapes.GroupSize)), scan);

        var prevs = Download(prev);
        var finals = Download(final);
        for (int s = 0; s < lengths.Length; s++)
        {
            var expectedPrev = new double[lengths[s] * channels];
            var state = field.AsSpan(slots[s] * channels, channels).ToArray();
            for (int i = 0; i < lengths[s]; i++)
            {
                for (int c = 0; c < channels; c++)
                {
                    double g = gamma[c / dh];
                    expectedPrev[i * channels + c] = state[c];
                    state[c] = g * state[c] + (1 - g) * kRaw[(starts[s] + i) * channels + c];
                }
            }

            // The state is fp64 (the blocked scan only reorders its roundings); attention gets it rounded once to fp32.
            Tolerance.ShouldMatch(prevs.AsSpan(starts[s] * channels, lengths[s] * channels), expectedPrev, $"S before each token of segment {s}", 1e-7);
            Tolerance.ShouldMatch(finals.AsSpan(s * channels, channels), state, $"S after segment {s}", 1e-12);
        }
    }

    [Theory]
    [InlineData(true, 1, false)]
    [InlineData(false, 1, false)]
    [InlineData(true, 3, false)]
    [InlineData(false, 7, false)]
    [InlineData(true, 1, true)]
    [InlineData(false, 3, true)]
    public void NearFieldAttention_MatchesSoftmaxOverTheWindow_FromRingAndChunk(bool includeCurrent, int splits, bool stageTiles)
    {
        const int heads = 6, kvHeads = 2, dh = 3, window = 5, slots = 2, n = 8;
        int kv = kvHeads * dh, perKv = heads / kvHeads;
        // Two sequences: slot 1 starts at position 9 with 6 tokens, slot 0 at position 2 with 2 tokens.
        int[] segSlot = { 1, 0 }, segStart = { 0, 6 }, segLength = { 6, 2 };
        long[] segFirst = { 9, 2 };
        var q = TestData.Inputs(heads * dh, n, seed: 10, amplitude: 2);
        var k = TestData.Inputs(kv, n, seed: 11, amplitude: 2);
        var v = TestData.Inputs(kv, n, seed: 12);
        var ringK = TestData.Inputs(window * kv, slots, seed: 13, amplitude: 2);
        var ringV = TestData.Inputs(window * kv, slots, seed: 14);
        var fieldPrev = TestData.Inputs(kv, n, seed: 15);
        var alpha = TestData.Inputs(heads, 1, seed: 16);
        var rowSegment = new[] { 0, 0, 0, 0, 0, 0, 1, 1 };
        var output = Alloc<float>(n * heads * dh);
        int hpg = Engine.Shapes.AttentionHeadsPerGroup(perKv, dh);
        var args = new AttentionArgs
            {
                Q = Upload(q).View,
                FieldPrev = Upload(fieldPrev).View, Alpha = Upload(alpha).View, Output = output.View, RowSegment = Upload(rowSegment).View,
                Tokens = n, Heads = heads, KvHeads = kvHeads, HeadDim = dh, Window = window, IncludeCurrent = includeCurrent ? 1 : 0,
                Scale = 0.7f, FarField = 1,
                PartialMax = Alloc<float>(n * heads * splits).View, PartialSum = Alloc<float>(n * heads * splits).View,
                PartialAcc = Alloc<float>(n * heads * splits * dh).View,
            };
        var launch = Engine.Shapes.Attention(n, heads, kvHeads, dh, hpg, window, splits, stageTiles);
        var keyValues = new StoredKeyValues<Float32View>
        {
            K = new() { View = Upload(k).View }, V = new() { View = Upload(v).View }, RingK = new() { View = Upload(ringK).View }, RingV = new() { View = Upload(ringV).View },
        };
        Engine.Kernels.Float32.Attention.Launch(Engine.Accelerator.DefaultStream, launch, args, Segments(segSlot, segStart, segLength, segFirst), keyValues);

        var actual = Download(output);
        var windows = new WindowAttention(k, v, ringK, ringV, kvHeads, dh, window);
        for (int t = 0; t < n; t++)
        {
            int s = rowSegment[t];
            long p = segFirst[s] + (t - segStart[s]);
            long hi = includeCurrent ? p : p - 1;
            long lo = Math.Max(0, hi - window + 1);
            for (int h = 0; h < heads; h++)
            {
                int g = h / perKv;
                var far = fieldPrev.AsSpan(t * kv + g * dh, dh).ToArray().Select(f => alpha[h] * (double)f).ToArray();
                var expected = windows.Expected(q.AsSpan((t * heads + h) * dh, dh), g, segSlot[s], segStart[s], segFirst[s], lo, hi, 0.7f, far);
                Tolerance.ShouldMatch(actual.AsSpan((t * heads + h) * dh, dh), expected, $"o[t={t}, h={h}] over [{lo}, {hi}]", 1e-5);
            }
        }
    }

    [Fact]
    public void StateCommit_WritesTheLastWRowsIntoTheirRingSlots_AndTheField()
    {
        const int channels = 2, window = 5, slots = 2;
        int[] segSlot = { 1, 0 }, segStart = { 0, 3 }, segLength = { 3, 12 };
        long[] segFirst = { 4, 21 };
        int n = 15;
        var k = Enumerable.Range(0, n * channels).Select(i => (float)i).ToArray();
        var v = k.Select(f => -f).ToArray();
        var final = new double[] { 100.25, 101, 200, 1 + 1e-12 };
        var ringK = Alloc<float>(slots * window * channels);
        var ringV = Alloc<float>(slots * window * channels);
        var field = Alloc<double>(slots * channels);
        var stream = Engine.Accelerator.DefaultStream;
        ringK.View.MemSetToZero(stream);
        ringV.View.MemSetToZero(stream);
        var commit = new CommitArgs
        {
            Segments = Segments(segSlot, segStart, segLength, segFirst), KRotated = Upload(k).View.Cast<ushort>(), V = Upload(v).View.Cast<ushort>(),
            Final = Upload(final).View, RingK = ringK.View.Cast<ushort>(), RingV = ringV.View.Cast<ushort>(), Field = field.View, Channels = channels, Units = 2,
            Window = window, RowsPerSegment = window, WriteField = 1, SaveK = Alloc<float>(2 * window * channels).View.Cast<ushort>(),
            SaveV = Alloc<float>(2 * window * channels).View.Cast<ushort>(), SaveField = Alloc<double>(2 * channels).View, SaveNext = 4,
        };
        Engine.Kernels.Commit.Launch(stream, Engine.Shapes.Elements("commit", slots * window * channels), commit);

        var expectedK = new float[slots * window * channels];
        for (int s = 0; s < 2; s++)
        {
            for (int i = Math.Max(0, segLength[s] - window); i < segLength[s]; i++)
            {
                int slot = (int)((segFirst[s] + i) % window);
                for (int c = 0; c < channels; c++)
                {
                    expectedK[(segSlot[s] * window + slot) * channels + c] = k[(segStart[s] + i) * channels + c];
                }
            }
        }

        Download(ringK).Should().Equal(expectedK);
        Download(ringV).Should().Equal(expectedK.Select(f => -f));
        Download(field).Should().Equal(200, 1 + 1e-12, 100.25, 101);
    }

    public void Dispose()
    {
        buffers.Dispose();
        GC.SuppressFinalize(this);
    }

    private SegmentArgs Segments(int[] slot, int[] start, int[] length, long[] first) => new()
    {
        Slot = Upload(slot).View, Start = Upload(start).View, Length = Upload(length).View, Position = Upload(first).View, Count = slot.Length,
    };

    private DeviceBuffer<T> Alloc<T>(long length)
        where T : unmanaged => buffers.Alloc<T>(length);

    private DeviceBuffer<T> Upload<T>(T[] data)
        where T : unmanaged => buffers.Upload(data);

    private T[] Download<T>(DeviceBuffer<T> buffer)
        where T : unmanaged => buffers.Download(buffer);
}
