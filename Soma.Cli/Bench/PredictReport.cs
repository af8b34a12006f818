using System.Globalization;

namespace Soma.Cli.Bench;

/// <summary>`soma predict`'s output: Markdown that says on every table that its times are predicted, not measured.</summary>
internal static class PredictReport
{
    /// <summary>Writes <paramref name="file"/> as Markdown: what it rests on, the profile counts, the predicted times, and each kernel.</summary>
    public static void Write(TextWriter w, PredictFile file)
    {
        var s = file.Shape;
        var c = file.Constants;
        w.WriteLine("PREDICTED by Soma's performance model, not measured: nothing ran on a GPU.");
        w.WriteLine();
        w.WriteLine($"Command: `{file.Command}`. Shape `{s.Name}`: D={s.D} H={s.H} Hkv={s.Hkv} dh={s.Dh} W={s.W}, " +
            $"RoPE {(s.RopeTheta is { } t ? "θ=" + t.ToString("G", CultureInfo.InvariantCulture) : "off")}, weights stored as {s.WeightType ?? s.Dtype}, " +
            $"ring as {s.RingType ?? s.Dtype} (activations and accumulation fp32).");
        w.WriteLine();
        w.WriteLine(
            $"Constants (`Soma.Runtime/Internal/PerformanceConstants.cs`): bandwidth {F(c.BandwidthEfficiency, 2)} of peak, compute " +
            $"{F(c.ComputeEfficiency, 2)} of peak fp32, {F(c.LaunchMicroseconds, 1)} µs a launch, {F(c.HostWaitMicroseconds, 1)} µs a host wait, " +
            $"{F(c.CopyMicroseconds, 1)} µs a copy, host link {F(c.HostLinkEfficiency, 2)} of its one-way bandwidth. Calibrated by: {c.CalibratedBy}.");
        w.WriteLine(
            "Launches, grids, device bytes and FLOPs: each description's plans (`LaunchPlan.For`, `PassCost`). Copies and host waits: " +
            "the same calls run through a tiny layer (same window, pass length, rows and positions) on the CPU accelerator.");
        w.WriteLine();
        w.WriteLine("Profile counts of each call (computed from the plans, not measured):");
        w.WriteLine();
        w.WriteLine("| device | call | passes | launches | uploads / downloads / host waits / device copies | device bytes read / written | FLOPs |");
        w.WriteLine("| --- | --- | ---: | --- | --- | --- | ---: |");
        foreach (var (call, p) in Rows(file))
        {
            var byKernel = p.Kernels.GroupBy(k => k.Kernel).Select(g => $"{g.Key} {g.Sum(k => k.Launches)}");
            w.WriteLine(
                $"| {p.Device} | {Label(call)} | {p.Passes} | {p.Launches}: {string.Join(", ", byKernel)} | " +
                $"{p.Uploads} / {p.Downloads} / {p.HostWaits} / {p.DeviceCopies} | {N(p.DeviceBytesRead)} / {N(p.DeviceBytesWritten)} | {N(p.Flops)} |");
        }

        w.WriteLine();
        w.WriteLine("PREDICTED times (kernels, copies and host waits add up; nothing overlapped):");
        w.WriteLine();
        w.WriteLine("| device | call | PREDICTED µs | kernels µs (of which launch costs) | copies µs | host waits µs | tokens/s | device bytes / time |");
        w.WriteLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (call, p) in Rows(file))
        {
            double gbs = (p.DeviceBytesRead + p.DeviceBytesWritten) / (p.StepMicroseconds * 1e-6) / 1e9;
            w.WriteLine(
                $"| {p.Device} | {Label(call)} | {F(p.StepMicroseconds, 1)} | {F(p.KernelMicroseconds, 1)} ({F(p.LaunchMicroseconds, 1)}) | " +
                $"{F(p.CopyMicroseconds, 1)} | {F(p.HostWaitMicroseconds, 1)} | {F(p.TokensPerSecond, 0)} | {F(gbs, 0)} GB/s |");
        }

        foreach (var (call, p) in Rows(file))
        {
            w.WriteLine();
            w.WriteLine($"PREDICTED per kernel, {p.Device}, {Label(call)}:");
            w.WriteLine();
            w.WriteLine("| kernel | launches | grid x group | shared B | groups / SM | waves | busy % | bytes read | bytes written | FLOPs | bound | µs |");
            w.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
            foreach (var k in p.Kernels)
            {
                w.WriteLine(
                    $"| {k.Kernel} | {k.Launches} | {k.Grid} x {k.GroupSize} | {N(k.SharedBytes)} | {k.GroupsPerMultiprocessor} | {k.Waves} | " +
                    $"{F(100 * k.Busy, 1)} | {N(k.BytesRead)} | {N(k.BytesWritten)} | {N(k.Flops)} | {k.Bound} | {F(k.Microseconds, 2)} |");
            }
        }
    }

    private static IEnumerable<(PredictedCall Call, PredictionRecord Prediction)> Rows(PredictFile file) =>
        file.Calls.SelectMany(call => call.Predicted.Select(p => (call, p)));

    private static string Label(PredictedCall call) => call.Call switch
    {
        "decode" => $"decode step at history {call.Position.ToString(CultureInfo.InvariantCulture)}",
        "batch-decode" => $"batched decode step, B = {call.Tokens.ToString(CultureInfo.InvariantCulture)} sessions at history {call.Position.ToString(CultureInfo.InvariantCulture)}",
        _ => $"{call.Call} of {call.Tokens.ToString(CultureInfo.InvariantCulture)} tokens",
    };

    private static string F(double v, int digits) => v.ToString("F" + digits, CultureInfo.InvariantCulture);

    private static string N(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
}
