using Soma.Reference;
using Soma.Tests.Infrastructure;

namespace Soma.Tests.Peers;

/// <summary>One CPU-accelerator engine for the ONNX Runtime peer tests, whatever SOMA_TEST_ACCELERATOR says.</summary>
public sealed class OnnxPeerEngineFixture : IDisposable
{
    /// <summary>Opens the ILGPU CPU accelerator with the default (fast) explicit-group device shape.</summary>
    public OnnxPeerEngineFixture() => Engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu));

    /// <summary>The shared engine.</summary>
    public SomaEngine Engine { get; }

    /// <inheritdoc />
    public void Dispose() => Engine.Dispose();
}

/// <summary>
/// Independent-peer checks: ONNX Runtime's attention kernels (com.microsoft.GroupQueryAttention with a local window
/// and the standard opset-23 Attention) compute the near field from the same projected, roped q, k, v, and Soma's
/// layer must agree with them. Nothing here uses Soma's reference layer as the expected value.
/// </summary>
public sealed class OnnxPeerTests(OnnxPeerEngineFixture fixture) : IClassFixture<OnnxPeerEngineFixture>
{
    private const double RopeTheta = 10000.0;

    private readonly SomaEngine engine = fixture.Engine;

    // ORT 1.31.1's CPU GroupQueryAttention rejects head sizes that are not a multiple of 8 ("head_size must be a
    // multiple of 8. Got head_size % 8 == 6"), so the GQA cases use dh = 8 or 16; dh = 6 is covered through the
    // standard Attention operator below.
    [Theory]
    [InlineData(32, 4, 2, 8, 40, 7)]
    [InlineData(32, 4, 1, 8, 40, 7)]
    [InlineData(24, 3, 3, 8, 33, 5)]
    [InlineData(48, 2, 1, 16, 24, 6)]
    [InlineData(16, 2, 1, 8, 12, 1)]
    public void GroupQueryAttentionWithLocalWindow_MatchesSomaNearField(int modelDim, int heads, int kvHeads, int headDim, int n, int window)
    {
        window.Should().BeLessThan(n, "the window must slide");
        var o = new SomaLayerOptions(modelDim, heads, kvHeads, headDim, window, includeCurrent: true, ropeTheta: RopeTheta);
        var qkv = Projected.From(o, SomaLayerWeights.CreateRandom(o, seed: 700 + headDim, biases: true), TestData.Inputs(modelDim, n, seed: 701));

        var ort = OnnxAttentionPeer.GroupQueryAttention(
            heads, kvHeads, headDim, qkv.Q, qkv.K, qkv.V, OnnxAttentionPeer.LocalWindowSizeFor(window), o.Scale);

        Tolerance.ShouldMatch(ort, qkv.NearField(window), $"GQA near field, W={window}", rel: 1e-5);
    }

    [Fact]
    public void GroupQueryAttentionLocalWindowSize_CountsTheCurrentKey()
    {
        // Pins the semantics LocalWindowSizeFor relies on: local_window_size = w gives token t the keys t-w+1 .. t,
        // w keys including its own, and neither w - 1 nor w + 1 of them. Should ORT change the convention, this test
        // names the cause before the layer comparisons fail.
        const int w = 6;
        var o = new SomaLayerOptions(16, 2, 1, 8, w, ropeTheta: RopeTheta);
        var qkv = Projected.From(o, SomaLayerWeights.CreateRandom(o, seed: 710), TestData.Inputs(16, 24, seed: 711));

        var ort = OnnxAttentionPeer.GroupQueryAttention(2, 1, 8, qkv.Q, qkv.K, qkv.V, localWindowSize: w, o.Scale);

        Tolerance.ShouldMatch(ort, qkv.NearField(w), "GQA(local_window_size=w) vs include-current window of w keys", rel: 1e-5);
        MaxAbsDifference(ort, qkv.NearField(w + 1)).Should().BeGreaterThan(1e-3, "a window of w + 1 keys gives different numbers");
        MaxAbsDifference(ort, qkv.NearField(w - 1)).Should().BeGreaterThan(1e-3, "a window of w - 1 keys gives different numbers");
    }

    [Theory]
    [InlineData(32, 4, 2, 8, 24, 24, false, 1024)]
    [InlineData(30, 3, 3, 6, 20, 32, true, 1024)]
    [InlineData(24, 4, 1, 6, 29, 48, true, 8)]
    public void SomaLayer_EqualsOrtCausalAttention_WhenWindowCoversSequence(
        int modelDim, int heads, int kvHeads, int headDim, int n, int window, bool biases, int maxChunkTokens)
    {
        window.Should().BeGreaterThanOrEqualTo(n, "the identity needs the window to cover the whole sequence");
        var o = new SomaLayerOptions(modelDim, heads, kvHeads, headDim, window, includeCurrent: true, ropeTheta: RopeTheta, maxChunkTokens: maxChunkTokens);
        var weights = SomaLayerWeights.CreateRandom(o, seed: 720 + heads, biases, alpha: 0f);
        var x = TestData.Inputs(modelDim, n, seed: 721);
        var qkv = Projected.From(o, weights, x);

        var attention = OnnxAttentionPeer.CausalAttention(heads, kvHeads, headDim, qkv.Q, qkv.K, qkv.V, o.Scale);
        Tolerance.ShouldMatch(attention, qkv.NearField(n), "ORT Attention(is_causal) vs causal loop", rel: 1e-5);

        Tolerance.ShouldMatch(RunSoma(o, weights, x), OutputProjection(o, weights, attention), "Soma y vs Wo(ORT causal attention) + bo");
    }

    [Theory]
    [InlineData(32, 4, 2, 8, 40, 7, false, 1024, 0)]
    [InlineData(24, 3, 3, 8, 33, 5, true, 16, 0)]
    [InlineData(32, 4, 1, 8, 48, 9, true, 1024, 20)]
    public void SomaLayer_EqualsOrtWindowedAttention_WhenRingWraps(
        int modelDim, int heads, int kvHeads, int headDim, int n, int window, bool biases, int maxChunkTokens, int split)
    {
        window.Should().BeLessThan(n / 2, "the ring must wrap at least twice");
        var o = new SomaLayerOptions(modelDim, heads, kvHeads, headDim, window, includeCurrent: true, ropeTheta: RopeTheta, maxChunkTokens: maxChunkTokens);
        var weights = SomaLayerWeights.CreateRandom(o, seed: 730 + heads, biases, alpha: 0f);
        var x = TestData.Inputs(modelDim, n, seed: 731);
        var qkv = Projected.From(o, weights, x);

        var attention = OnnxAttentionPeer.GroupQueryAttention(
            heads, kvHeads, headDim, qkv.Q, qkv.K, qkv.V, OnnxAttentionPeer.LocalWindowSizeFor(window), o.Scale);

        Tolerance.ShouldMatch(RunSoma(o, weights, x, split), OutputProjection(o, weights, attention), "Soma y vs Wo(ORT windowed GQA) + bo");
    }

    /// <summary>Soma's layer on the CPU accelerator: one prefill, or two when <paramref name="split"/> tokens go first.</summary>
    private float[] RunSoma(SomaLayerOptions o, SomaLayerWeights weights, float[] x, int split = 0)
    {
        using var layer = engine.CreateLayer(o, weights);
        using var session = layer.CreateSession();
        if (split == 0)
        {
            return session.Prefill(x);
        }

        int cut = split * o.ModelDim;
        return [.. session.Prefill(x.AsSpan(0, cut)), .. session.Prefill(x.AsSpan(cut))];
    }

    /// <summary>y[t] = Wo o[t] + bo in double, with o[t] the peer's attention output for token t.</summary>
    private static double[] OutputProjection(SomaLayerOptions o, SomaLayerWeights weights, float[] attention)
    {
        int width = o.Heads * o.HeadDim;
        int n = attention.Length / width;
        var y = new double[n * o.ModelDim];
        var row = new double[width];
        for (int t = 0; t < n; t++)
        {
            for (int i = 0; i < width; i++)
            {
                row[i] = attention[t * width + i];
            }

            ReferenceMath.Output(o, weights, row).CopyTo(y, t * o.ModelDim);
        }

        return y;
    }

    private static double MaxAbsDifference(float[] a, double[] b)
    {
        double max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }

        return max;
    }

    /// <summary>
    /// q (roped), k (roped) and v of every token, rounded to float once: ORT consumes exactly these numbers and the
    /// double-precision loop reads them back, so a comparison measures only the attention arithmetic.
    /// </summary>
    private sealed record Projected(SomaLayerOptions Options, float[] Q, float[] K, float[] V)
    {
        public static Projected From(SomaLayerOptions o, SomaLayerWeights weights, float[] x)
        {
            int d = o.ModelDim;
            int n = x.Length / d;
            int qWidth = o.Heads * o.HeadDim;
            int kvWidth = o.KvHeads * o.HeadDim;
            var q = new float[n * qWidth];
            var k = new float[n * kvWidth];
            var v = new float[n * kvWidth];
            for (int t = 0; t < n; t++)
            {
                var token = ReferenceMath.Project(o, weights, x.AsSpan(t * d, d), t);
                Round(token.Q, q, t * qWidth);
                Round(token.KRotated, k, t * kvWidth);
                Round(token.V, v, t * kvWidth);
            }

            return new Projected(o, q, k, v);
        }

        /// <summary>
        /// The near field before the output projection, [n, H*dh]: token t, head h attends with ReferenceMath.Attend
        /// over kv-head h / (H / Hkv) of positions max(0, t - keys + 1) .. t (Soma's include-current window).
        /// </summary>
        public double[] NearField(int keys)
        {
            int dh = Options.HeadDim;
            int qWidth = Options.Heads * dh;
            int kvWidth = Options.KvHeads * dh;
            int n = Q.Length / qWidth;
            var result = new double[n * qWidth];
            for (int t = 0; t < n; t++)
            {
                for (int h = 0; h < Options.Heads; h++)
                {
                    int g = h / Options.HeadsPerKvHead;
                    var keyRows = new List<double[]>();
                    var valueRows = new List<double[]>();
                    for (int j = Math.Max(0, t - keys + 1); j <= t; j++)
                    {
                        keyRows.Add(Widen(K.AsSpan(j * kvWidth + g * dh, dh)));
                        valueRows.Add(Widen(V.AsSpan(j * kvWidth + g * dh, dh)));
                    }

                    var query = Widen(Q.AsSpan(t * qWidth + h * dh, dh));
                    ReferenceMath.Attend(query, keyRows, valueRows, Options.Scale).CopyTo(result, t * qWidth + h * dh);
                }
            }

            return result;
        }

        private static void Round(double[] source, float[] target, int offset)
        {
            for (int i = 0; i < source.Length; i++)
            {
                target[offset + i] = (float)source[i];
            }
        }

        private static double[] Widen(ReadOnlySpan<float> values)
        {
            var result = new double[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                result[i] = values[i];
            }

            return result;
        }
    }
}
