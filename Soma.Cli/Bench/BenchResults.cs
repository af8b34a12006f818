using System.Text.Json;
using System.Text.Json.Serialization;

namespace Soma.Cli.Bench;

/// <summary>The JSON file the benchmark writes (schema in docs/benchmarks.md).</summary>
internal sealed record BenchFile(string Schema, string Created, string Command, string Machine, IReadOnlyList<AcceleratorRun> Runs)
{
    public const string SchemaName = "soma-bench/1";

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>Everything measured on one accelerator.</summary>
internal sealed record AcceleratorRun(
    DeviceRecord Device,
    ShapeRecord Shape,
    VerifyRecord Verify,
    IReadOnlyList<FidelityRecord> Fidelity,
    IReadOnlyList<DecodeRecord> Decode,
    IReadOnlyList<PrefillRecord> Prefill,
    IReadOnlyList<MemoryRecord> Memory,
    IReadOnlyList<BatchRecord> Batch,
    IReadOnlyList<CapacityRecord> Capacity,
    IReadOnlyList<TargetRecord> Targets,
    double Seconds);

internal sealed record DeviceRecord(string Kind, string Name, long MemoryBytes, int WarpSize, int MaxGroupSize, int Multiprocessors, double? PeakBandwidthGbS, string Note);

internal sealed record ShapeRecord(string Name, int D, int H, int Hkv, int Dh, int W, bool IncludeCurrent, double? RopeTheta, string Dtype);

/// <summary>Prefill and decode of a random layer (biases, RoPE, random gamma and alpha) against the double-precision reference.</summary>
internal sealed record VerifyRecord(int PrefillTokens, int DecodeSteps, double PrefillMaxRelErr, double PrefillCos, double DecodeMaxRelErr, double DecodeCos, bool Pass);

/// <summary>Soma (W = n, alpha = 0) against standard causal attention on the same accelerator.</summary>
internal sealed record FidelityRecord(int N, string Mode, double MeanErr, double MaxErr, double CosAll, double CosSkip0);

/// <summary>
/// One decode step at a history; <see cref="Profile"/> is what Soma's last timed step did on the device;
/// <see cref="Predicted"/> is the same step on the built-in GPU descriptions as the performance model predicts it (not measured).
/// </summary>
internal sealed record DecodeRecord(
    long History, double SomaMs, double StandardMs, double Ratio, double IdealRatio,
    long SomaBytesPerStep, long StandardBytesPerStep, double SomaGbS, double StandardGbS, double? SomaPeakPct, double? StandardPeakPct, int Steps, int Rounds,
    ProfileRecord? Profile = null, IReadOnlyList<PredictionRecord>? Predicted = null);

/// <summary>
/// Prefill throughput at one length. <see cref="SomaSerialCopiesTokS"/>: the parallel prefill again with uploads and
/// downloads on the compute stream instead of overlapping it; null when the prompt fits one pass (nothing to overlap).
/// <see cref="Predicted"/>: the parallel prefill on the built-in GPU descriptions as the performance model predicts it (not measured).
/// </summary>
internal sealed record PrefillRecord(
    int Tokens, double SomaParallelTokS, double SomaLoopTokS, double StandardTokS, int SomaLoopTokensTimed, double ParallelOverLoop,
    double? SomaSerialCopiesTokS = null, ProfileRecord? Profile = null, IReadOnlyList<PredictionRecord>? Predicted = null);

/// <summary>
/// The runtime's profile of one Soma call (<see cref="SomaLayer.LastCallProfile"/>): launches (by kernel), copies,
/// host waits, and the device bytes and FLOPs its plans' shapes give. Counted, not timed.
/// </summary>
internal sealed record ProfileRecord(
    int Passes, int Launches, IReadOnlyDictionary<string, int> LaunchesByKernel, int Uploads, int Downloads, int HostWaits, int DeviceCopies,
    long DeviceBytesRead, long DeviceBytesWritten, long Flops, long ManagedBytesAllocated)
{
    /// <summary>The record of <paramref name="p"/>; null when there is none.</summary>
    public static ProfileRecord? Of(SomaCallProfile? p) => p is null
        ? null
        : new(p.Passes, p.Launches, p.LaunchesByKernel, p.Uploads, p.Downloads, p.HostWaits, p.DeviceCopies, p.DeviceBytesRead, p.DeviceBytesWritten, p.Flops, p.ManagedBytesAllocated);
}

internal sealed record MemoryRecord(long History, long SomaBytes, long StandardBytes, double Ratio);

/// <summary>Batched decode: B sessions (each at the history given) decoded one token each per call.</summary>
/// <summary>
/// Decode of <see cref="Batch"/> sessions per call at about <see cref="History"/>: one layer, and a model of
/// <see cref="ModelLayers"/> layers (every layer one pass, commits after the last).
/// </summary>
internal sealed record BatchRecord(
    int Batch, long History, double StepMs, double TokensPerSecond, int ModelLayers, double ModelStepMs, double ModelTokensPerSecond);

/// <summary>Sessions whose state fits a memory budget at a history: Soma's fixed state vs a KV cache of that length.</summary>
internal sealed record CapacityRecord(long History, long BudgetBytes, long SomaSessions, long StandardSessions, double Ratio, long SomaPoolBytesMeasured);

internal sealed record TargetRecord(string Name, string Measured, string Target, bool Met);
