using Soma.Internal;

namespace Soma.Cli.Bench;

/// <summary>The JSON `soma predict --json` writes (schema soma-predict/1, docs/benchmarks.md).</summary>
internal sealed record PredictFile(string Schema, string Created, string Command, ShapeRecord Shape, ConstantsRecord Constants, IReadOnlyList<PredictedCall> Calls);

/// <summary>
/// One predicted call: <paramref name="Call"/> "decode", "prefill" or "batch-decode" (<paramref name="Tokens"/>
/// sessions, one row each), its rows and the sessions' position before it.
/// </summary>
internal sealed record PredictedCall(string Call, int Tokens, long Position, IReadOnlyList<PredictionRecord> Predicted);

/// <summary>The performance model's constants as written with predictions (<see cref="PerformanceConstants"/>).</summary>
internal sealed record ConstantsRecord(
    double BandwidthEfficiency, double ComputeEfficiency, double LaunchMicroseconds, double HostWaitMicroseconds, double CopyMicroseconds,
    double HostLinkEfficiency, string CalibratedBy)
{
    /// <summary>The record of <paramref name="c"/>.</summary>
    public static ConstantsRecord Of(PerformanceConstants c) => new(
        c.BandwidthEfficiency, c.ComputeEfficiency, c.LaunchSeconds * 1e6, c.HostWaitSeconds * 1e6, c.CopySeconds * 1e6, c.HostLinkEfficiency, c.CalibratedBy);
}
