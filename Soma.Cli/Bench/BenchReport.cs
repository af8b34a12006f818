using System.Globalization;
using Spectre.Console;

namespace Soma.Cli.Bench;

/// <summary>Prints one accelerator run as tables shaped like the seed paper's tables 3.2-3.4, plus the targets.</summary>
internal static class BenchReport
{
    public static void Print(AcceleratorRun run)
    {
        var d = run.Device;
        var s = run.Shape;
        AnsiConsole.Write(new Rule($"[bold]{Markup.Escape(d.Kind)}: {Markup.Escape(d.Name)}[/]").LeftJustified());
        AnsiConsole.MarkupLine(Markup.Escape(
            $"shape {s.Name}: D={s.D} H={s.H} Hkv={s.Hkv} dh={s.Dh} W={s.W} rope={(s.RopeTheta?.ToString("G", CultureInfo.InvariantCulture) ?? "off")} {s.Dtype}" +
            (d.PeakBandwidthGbS is { } bw ? $"; peak memory bandwidth {bw:F0} GB/s" : "")));
        var v = run.Verify;
        AnsiConsole.MarkupLine(Markup.Escape(
            $"verify vs reference: prefill {v.PrefillTokens} tok max rel err {v.PrefillMaxRelErr:E2} cos {v.PrefillCos:F9}; " +
            $"decode {v.DecodeSteps} steps max rel err {v.DecodeMaxRelErr:E2} cos {v.DecodeCos:F9} => {(v.Pass ? "PASS" : "FAIL")}"));

        var fidelity = Table("Fidelity vs standard attention (W >= n, alpha = 0)", "n", "mode", "mean |err|", "max |err|", "cos (all t)", "cos (t >= 1)");
        foreach (var f in run.Fidelity)
        {
            fidelity.AddRow(f.N.ToString(CultureInfo.InvariantCulture), f.Mode, E(f.MeanErr), E(f.MaxErr), F(f.CosAll, 6), F(f.CosSkip0, 6));
        }

        AnsiConsole.Write(fidelity);

        bool bandwidth = run.Decode.Any(r => r.SomaPeakPct is not null);
        var decodeColumns = new List<string> { "history", "Soma ms", "standard ms", "speed-up", "ideal (bytes)", "Soma GB/s", "standard GB/s" };
        if (bandwidth)
        {
            decodeColumns.AddRange(new[] { "Soma % peak", "standard % peak" });
        }

        var decode = Table($"Decode step latency (median of {run.Decode[0].Steps} steps after warm-up; lowest of {run.Decode[0].Rounds} interleaved rounds)", decodeColumns.ToArray());
        foreach (var r in run.Decode)
        {
            var row = new List<string>
            {
                r.History.ToString(CultureInfo.InvariantCulture), F(r.SomaMs, 3), F(r.StandardMs, 3), $"{F(r.Ratio, 2)}x", $"{F(r.IdealRatio, 2)}x",
                F(r.SomaGbS, 1), F(r.StandardGbS, 1),
            };
            if (bandwidth)
            {
                row.Add(F(r.SomaPeakPct ?? 0, 1));
                row.Add(F(r.StandardPeakPct ?? 0, 1));
            }

            decode.AddRow(row.ToArray());
        }

        AnsiConsole.Write(decode);
        PrintPredicted(
            "Decode step", "history", $"measured Soma ms ({d.Kind})", run.Decode.Select(r => (r.History, F(r.SomaMs, 3), r.Predicted)),
            p => F(p.StepMicroseconds, 1) + " µs");

        var prefill = Table("Prefill throughput (tokens/s; parallel and standard: the fastest of 3 runs)", "tokens", "Soma parallel", "Soma token-by-token", "standard causal", "parallel / loop", "copies serialized (overlap gain)");
        foreach (var p in run.Prefill)
        {
            prefill.AddRow(
                p.Tokens.ToString(CultureInfo.InvariantCulture), F(p.SomaParallelTokS, 0), $"{F(p.SomaLoopTokS, 0)} ({p.SomaLoopTokensTimed} timed)",
                F(p.StandardTokS, 0), $"{F(p.ParallelOverLoop, 1)}x",
                p.SomaSerialCopiesTokS is { } serial ? $"{F(serial, 0)} ({F(p.SomaParallelTokS / serial, 2)}x)" : "one pass");
        }

        AnsiConsole.Write(prefill);
        PrintPredicted(
            "Parallel prefill", "tokens", $"measured Soma tokens/s ({d.Kind})", run.Prefill.Select(p => ((long)p.Tokens, F(p.SomaParallelTokS, 0), p.Predicted)),
            p => F(p.TokensPerSecond, 0) + " tokens/s");

        var memory = Table("Session state bytes", "history", "Soma", "standard KV cache", "ratio");
        foreach (var m in run.Memory)
        {
            memory.AddRow(m.History.ToString(CultureInfo.InvariantCulture), m.SomaBytes.ToString("N0", CultureInfo.InvariantCulture),
                m.StandardBytes.ToString("N0", CultureInfo.InvariantCulture), $"{F(m.Ratio, 1)}x");
        }

        AnsiConsole.Write(memory);

        var batch = Table(
            $"Batched decode (sessions at history ~{run.Batch[0].History}; median step)", "batch", "layer step ms", "layer tokens/s",
            "layer device bytes / step", "layer GB/s (% of peak)", $"{run.Batch[0].ModelLayers}-layer model step ms", "model tokens/s");
        foreach (var b in run.Batch)
        {
            batch.AddRow(
                b.Batch.ToString(CultureInfo.InvariantCulture), F(b.StepMs, 3), F(b.TokensPerSecond, 0),
                b.DeviceBytesPerStep is { } bytes ? bytes.ToString("N0", CultureInfo.InvariantCulture) : "-",
                b.GbS is { } gbs ? F(gbs, 1) + (b.PeakPct is { } pct ? $" ({F(pct, 1)} %)" : string.Empty) : "-",
                F(b.ModelStepMs, 3), F(b.ModelTokensPerSecond, 0));
        }

        AnsiConsole.Write(batch);

        var capacity = Table(
            $"Sessions in a {run.Capacity[0].BudgetBytes / (1024.0 * 1024 * 1024):F2} GiB state budget (Soma pool measured: {run.Capacity[0].SomaPoolBytesMeasured:N0} bytes)",
            "history", "Soma sessions", "standard sessions", "ratio");
        foreach (var c in run.Capacity)
        {
            capacity.AddRow(c.History.ToString(CultureInfo.InvariantCulture), c.SomaSessions.ToString("N0", CultureInfo.InvariantCulture),
                c.StandardSessions.ToString("N0", CultureInfo.InvariantCulture), $"{F(c.Ratio, 1)}x");
        }

        AnsiConsole.Write(capacity);

        if (run.Model is { } model)
        {
            PrintModel(model);
        }

        var targets = Table("Targets", "target", "measured", "wanted", "met");
        foreach (var t in run.Targets)
        {
            targets.AddRow(Markup.Escape(t.Name), Markup.Escape(t.Measured), Markup.Escape(t.Target), t.Met ? "[green]yes[/]" : "[red]no[/]");
        }

        AnsiConsole.Write(targets);
        AnsiConsole.MarkupLine(Markup.Escape($"{d.Kind} run took {run.Seconds:F1} s"));
    }

    /// <summary>
    /// The predicted figures of <paramref name="rows"/> (one column per GPU description) next to the measured one, under a
    /// title that says they are predictions; nothing when no row has predictions.
    /// </summary>
    private static void PrintPredicted(
        string call, string size, string measured, IEnumerable<(long Size, string Measured, IReadOnlyList<PredictionRecord>? Predicted)> rows,
        Func<PredictionRecord, string> figure)
    {
        var list = rows.Where(r => r.Predicted is { Count: > 0 }).ToList();
        if (list.Count == 0)
        {
            return;
        }

        var devices = list[0].Predicted!.Select(p => $"PREDICTED {p.Device}").ToArray();
        var table = Table(
            $"{call}: PREDICTED on GPU descriptions by the performance model (not measured; constants: {list[0].Predicted![0].Constants})",
            new[] { size, measured }.Concat(devices).ToArray());
        foreach (var r in list)
        {
            table.AddRow(new[] { r.Size.ToString(CultureInfo.InvariantCulture), r.Measured }.Concat(r.Predicted!.Select(figure)).ToArray());
        }

        AnsiConsole.Write(table);
    }

    private static void PrintModel(ModelBenchRecord model)
    {
        var shapes = Table("Whole model: random decoders (Qwen2 style, tied embeddings, fp32)", "shape", "D", "I", "L", "H", "Hkv", "dh", "V", "W", "parameters");
        foreach (var s in model.Shapes)
        {
            shapes.AddRow(
                s.Name, I(s.D), I(s.I), I(s.Layers), I(s.H), I(s.Hkv), I(s.Dh), I(s.V), I(s.W), s.Parameters.ToString("N0", CultureInfo.InvariantCulture));
        }

        AnsiConsole.Write(shapes);
        var speed = Table(
            "Whole model, Soma in every layer vs standard attention in every layer (tokens/s)", "shape", "phase", "tokens / history", "Soma", "standard", "Soma / standard");
        foreach (var p in model.Prefill)
        {
            speed.AddRow(p.Shape, $"prefill (fastest of {p.Repeats})", I(p.Tokens), F(p.SomaTokS, 0), F(p.StandardTokS, 0), $"{F(p.Ratio, 2)}x");
        }

        foreach (var d in model.Decode)
        {
            speed.AddRow(
                d.Shape, $"greedy decode (median of {d.Steps}; ms {F(d.SomaMs, 2)} vs {F(d.StandardMs, 2)})", d.History.ToString(CultureInfo.InvariantCulture),
                F(d.SomaTokS, 0), F(d.StandardTokS, 0), $"{F(d.Ratio, 2)}x");
        }

        AnsiConsole.Write(speed);
        var memory = Table("Whole model: state bytes per conversation (every layer)", "shape", "history", "Soma", "standard KV cache", "ratio");
        foreach (var m in model.Memory)
        {
            memory.AddRow(m.Shape, m.History.ToString(CultureInfo.InvariantCulture), m.SomaBytes.ToString("N0", CultureInfo.InvariantCulture),
                m.StandardBytes.ToString("N0", CultureInfo.InvariantCulture), $"{F(m.Ratio, 1)}x");
        }

        AnsiConsole.Write(memory);
        AnsiConsole.MarkupLine(Markup.Escape($"whole-model section took {model.Seconds:F1} s"));
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static Table Table(string title, params string[] columns)
    {
        var table = new Table { Title = new TableTitle(Markup.Escape(title)) };
        foreach (var c in columns)
        {
            table.AddColumn(new TableColumn(Markup.Escape(c)).RightAligned());
        }

        return table;
    }

    private static string F(double v, int digits) => v.ToString("F" + digits, CultureInfo.InvariantCulture);

    private static string E(double v) => v.ToString("E2", CultureInfo.InvariantCulture);
}
