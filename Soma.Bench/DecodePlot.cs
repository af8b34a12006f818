using ScottPlot;

namespace Soma.Bench;

/// <summary>Decode latency against history, Soma and standard attention, one pair of lines per accelerator (PNG via ScottPlot).</summary>
internal static class DecodePlot
{
    public static void Save(IReadOnlyList<AcceleratorRun> runs, string path)
    {
        var plot = new Plot();
        foreach (var run in runs)
        {
            double[] xs = run.Decode.Select(r => (double)r.History).ToArray();
            var soma = plot.Add.Scatter(xs, run.Decode.Select(r => r.SomaMs).ToArray());
            soma.LegendText = $"Soma ({run.Device.Kind}, {run.Shape.Name}, W={run.Shape.W})";
            soma.MarkerSize = 8;
            var standard = plot.Add.Scatter(xs, run.Decode.Select(r => r.StandardMs).ToArray());
            standard.LegendText = $"standard attention ({run.Device.Kind}, {run.Shape.Name})";
            standard.MarkerSize = 8;
            standard.LinePattern = LinePattern.Dashed;
        }

        plot.Axes.Bottom.Label.Text = "history n (tokens)";
        plot.Axes.Left.Label.Text = "decode step latency, median (ms)";
        plot.Title("Decode latency vs history");
        plot.ShowLegend(Alignment.UpperLeft);
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        plot.SavePng(path, 900, 560);
    }
}
