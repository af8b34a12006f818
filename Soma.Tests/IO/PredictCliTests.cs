using System.Text.Json;
using Soma.Cli;

namespace Soma.Tests.IO;

/// <summary>`soma predict` in-process: predictions on both GPU descriptions, labelled as predicted, without a GPU.</summary>
public sealed class PredictCliTests : IDisposable
{
    private readonly string folder = Directory.CreateTempSubdirectory("soma-predict-").FullName;

    [Fact]
    public void Predict_PrintsAndWritesBothDescriptions_LabelledAsPredicted()
    {
        string path = Path.Combine(folder, "p.json");
        var output = new StringWriter();
        var error = new StringWriter();

        int rc = SomaCli.Invoke(new[] { "predict", "--shape", "small", "--history", "100", "--prefill", "300", "--json", path }, output, error);

        error.ToString().Should().BeEmpty();
        rc.Should().Be(0);
        string text = output.ToString();
        text.Should().StartWith("PREDICTED by Soma's performance model, not measured")
            .And.Contain("`soma predict --shape small --history 100 --prefill 300 --batch 64 --weight-type f32 --ring-type f32`")
            .And.Contain("| NVIDIA H100 SXM (spec) | decode step at history 100 |")
            .And.Contain("| NVIDIA H200 (spec) | prefill of 300 tokens |")
            .And.Contain("PREDICTED per kernel, NVIDIA H200 (spec), decode step at history 100:");

        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var root = json.RootElement;
        root.GetProperty("schema").GetString().Should().Be("soma-predict/1");
        root.GetProperty("constants").GetProperty("calibrated_by").GetString().Should().StartWith("none");
        var calls = root.GetProperty("calls");
        calls.EnumerateArray().Select(c => c.GetProperty("call").GetString()).Should().Equal("decode", "prefill", "batch-decode");
        var decode = calls[0].GetProperty("predicted")[0];
        (decode.GetProperty("uploads").GetInt32(), decode.GetProperty("downloads").GetInt32()).Should().Be((1, 1), "a decode step through host spans: one upload block, one download");
        decode.GetProperty("step_microseconds").GetDouble().Should().BePositive();
        calls[1].GetProperty("predicted")[0].GetProperty("passes").GetInt32().Should().Be(2, "300 rows in passes of the small shape's 256");
    }

    [Fact]
    public void Predict_TakesTheStorageTypes_SaysThem_AndPredictsTheBatchedDecodeStep()
    {
        string narrow = Path.Combine(folder, "narrow.json");
        string wide = Path.Combine(folder, "wide.json");
        var output = new StringWriter();
        var error = new StringWriter();

        int rc = SomaCli.Invoke(
            new[] { "predict", "--shape", "small", "--history", "100", "--prefill", "40", "--batch", "9", "--weight-type", "bf16", "--ring-type", "f16", "--json", narrow },
            output, error);
        int rcWide = SomaCli.Invoke(new[] { "predict", "--shape", "small", "--history", "100", "--prefill", "40", "--batch", "9", "--json", wide }, TextWriter.Null, error);

        error.ToString().Should().BeEmpty();
        (rc, rcWide).Should().Be((0, 0));
        output.ToString().Should().Contain("weights stored as bf16, ring as f16")
            .And.Contain("--weight-type bf16 --ring-type f16")
            .And.Contain("| NVIDIA H100 SXM (spec) | batched decode step, B = 9 sessions at history 100 |");
        using var json = JsonDocument.Parse(File.ReadAllText(narrow));
        using var fp32 = JsonDocument.Parse(File.ReadAllText(wide));
        var shape = json.RootElement.GetProperty("shape");
        (shape.GetProperty("weight_type").GetString(), shape.GetProperty("ring_type").GetString()).Should().Be(("bf16", "f16"));
        (fp32.RootElement.GetProperty("shape").GetProperty("weight_type").GetString(), fp32.RootElement.GetProperty("shape").GetProperty("ring_type").GetString())
            .Should().Be(("f32", "f32"), "the small shape's random weights and the default ring are fp32");
        var batch = json.RootElement.GetProperty("calls")[2];
        (batch.GetProperty("call").GetString(), batch.GetProperty("tokens").GetInt32(), batch.GetProperty("position").GetInt64()).Should().Be(("batch-decode", 9, 100L));
        long narrowBytes = batch.GetProperty("predicted")[0].GetProperty("device_bytes_read").GetInt64();
        long wideBytes = fp32.RootElement.GetProperty("calls")[2].GetProperty("predicted")[0].GetProperty("device_bytes_read").GetInt64();
        narrowBytes.Should().BeLessThan(wideBytes, "16-bit weights and ring halve their bytes");
        var decode = batch.GetProperty("predicted")[0];
        decode.GetProperty("tokens_per_second").GetDouble().Should().BeApproximately(9 / (decode.GetProperty("step_microseconds").GetDouble() * 1e-6), 1e-6);
    }

    [Theory]
    [InlineData("--weight-type", "q4")]
    [InlineData("--ring-type", "int8")]
    public void Predict_RejectsAnUnknownStorageType_InOneLine(string option, string value)
    {
        var error = new StringWriter();
        int rc = SomaCli.Invoke(new[] { "predict", "--shape", "small", option, value }, TextWriter.Null, error);

        rc.Should().Be(2);
        error.ToString().Trim().Should().Be($"error: {option} {value}: expected f32, f16 or bf16.");
    }

    [Fact]
    public void Predict_RejectsAnEmptyPrefill_InOneLine()
    {
        var error = new StringWriter();
        int rc = SomaCli.Invoke(new[] { "predict", "--prefill", "0" }, TextWriter.Null, error);

        rc.Should().Be(2);
        error.ToString().Trim().Should().StartWith("error: --history must be >= 0, --prefill >= 1 and --batch >= 1.");
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
