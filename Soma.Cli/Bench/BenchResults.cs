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
    ModelBenchRecord? Model,
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

/// <summary>
/// The whole-model section: random decoders (<see cref="BenchDecoder"/>) with Soma layers against the same model with
/// standard attention in every layer, on this accelerator; and memory per conversation from the state sizes the
/// runtime reports, for every shape in <see cref="Shapes"/> (including shapes too large to run here).
/// </summary>
internal sealed record ModelBenchRecord(
    IReadOnlyList<ModelShapeRecord> Shapes, IReadOnlyList<ModelPrefillRecord> Prefill, IReadOnlyList<ModelDecodeRecord> Decode,
    IReadOnlyList<ModelMemoryRecord> Memory, double Seconds);

/// <summary>A decoder shape: widths, layers, vocabulary, Soma's window, parameter count and fp32 weight bytes.</summary>
internal sealed record ModelShapeRecord(string Name, int D, int I, int Layers, int H, int Hkv, int Dh, int V, int W, long Parameters, long WeightBytes, string Dtype);

/// <summary>Prompt throughput of one prefill call (the LM head on the last token, its argmax on the device); fastest of <see cref="Repeats"/>.</summary>
internal sealed record ModelPrefillRecord(string Shape, int Tokens, double SomaTokS, double StandardTokS, double Ratio, int Repeats);

/// <summary>Greedy decode (argmax on the device) after a prompt of <see cref="History"/> tokens: median step of <see cref="Steps"/> after warm-up.</summary>
internal sealed record ModelDecodeRecord(
    string Shape, long History, int Steps, double SomaMs, double StandardMs, double SomaTokS, double StandardTokS, double Ratio);

/// <summary>
/// Device bytes of one conversation's state at a history: every Soma layer's fixed ring and field against every
/// layer's KV cache of that many tokens (each layer's <see cref="SomaLayer.StateBytes"/> as the runtime reports it).
/// </summary>
internal sealed record ModelMemoryRecord(string Shape, long History, long SomaBytes, long StandardBytes, double Ratio);
