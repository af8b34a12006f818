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
            .And.Contain("`soma predict --shape small --history 100 --prefill 300`")
            .And.Contain("| NVIDIA H100 SXM (spec) | decode step at history 100 |")
            .And.Contain("| NVIDIA H200 (spec) | prefill of 300 tokens |")
            .And.Contain("PREDICTED per kernel, NVIDIA H200 (spec), decode step at history 100:");

        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var root = json.RootElement;
        root.GetProperty("schema").GetString().Should().Be("soma-predict/1");
        root.GetProperty("constants").GetProperty("calibrated_by").GetString().Should().StartWith("none");
        var calls = root.GetProperty("calls");
        calls.EnumerateArray().Select(c => c.GetProperty("call").GetString()).Should().Equal("decode", "prefill");
        var decode = calls[0].GetProperty("predicted")[0];
        (decode.GetProperty("uploads").GetInt32(), decode.GetProperty("downloads").GetInt32()).Should().Be((1, 1), "a decode step through host spans: one upload block, one download");
        decode.GetProperty("step_microseconds").GetDouble().Should().BePositive();
        calls[1].GetProperty("predicted")[0].GetProperty("passes").GetInt32().Should().Be(2, "300 rows in passes of the small shape's 256");
    }

    [Fact]
    public void Predict_RejectsAnEmptyPrefill_InOneLine()
    {
        var error = new StringWriter();
        int rc = SomaCli.Invoke(new[] { "predict", "--prefill", "0" }, TextWriter.Null, error);

        rc.Should().Be(2);
        error.ToString().Trim().Should().StartWith("error: --history must be >= 0 and --prefill >= 1.");
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);
}
