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

/// <summary>
/// The layer shape a run or prediction is for; <see cref="WeightType"/> and <see cref="RingType"/> name how the layer
/// stores its weights and its ring (f32, f16 or bf16: <see cref="SomaLayerOptions.WeightStorage"/>, <see cref="SomaLayerOptions.RingStorage"/>).
/// </summary>
internal sealed record ShapeRecord(
    string Name, int D, int H, int Hkv, int Dh, int W, bool IncludeCurrent, double? RopeTheta, string Dtype, string? WeightType = null, string? RingType = null)
{
    /// <summary>The record of layer options <paramref name="o"/> named <paramref name="name"/> (weights left to the checkpoint count as f32, as a random layer stores them).</summary>
    public static ShapeRecord Of(string name, SomaLayerOptions o) => new(
        name, o.ModelDim, o.Heads, o.KvHeads, o.HeadDim, o.Window, o.IncludeCurrent, o.RopeTheta, "fp32",
        Internal.StorageTypes.Name(o.WeightStorage ?? SomaStorageType.Float32), Internal.StorageTypes.Name(o.RingStorage));
}

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

/// <summary>
/// Batched decode: <see cref="Batch"/> sessions per call at about <see cref="History"/>, one token each: one layer, and a
/// model of <see cref="ModelLayers"/> layers (every layer one pass, commits after the last).
/// <see cref="DeviceBytesPerStep"/>: the device bytes the layer's step reads and writes (its call profile, commit
/// included); <see cref="GbS"/> those over the layer's step time; <see cref="PeakPct"/> that against the device's peak
/// bandwidth where known.
/// </summary>
internal sealed record BatchRecord(
    int Batch, long History, double StepMs, double TokensPerSecond, int ModelLayers, double ModelStepMs, double ModelTokensPerSecond,
    long? DeviceBytesPerStep = null, double? GbS = null, double? PeakPct = null)
{
    /// <summary>
    /// The record of <paramref name="batch"/> sessions at <paramref name="history"/> whose layer step took
    /// <paramref name="stepMs"/> and did what <paramref name="profile"/> counts (null: no bytes), on a device of
    /// <paramref name="peakBandwidth"/> bytes/s (null: unknown), and whose <paramref name="modelLayers"/>-layer model step took <paramref name="modelStepMs"/>.
    /// </summary>
    public static BatchRecord Of(int batch, long history, double stepMs, SomaCallProfile? profile, double? peakBandwidth, int modelLayers, double modelStepMs)
    {
        long? bytes = profile is null ? null : profile.DeviceBytesRead + profile.DeviceBytesWritten;
        double? gbs = bytes / (stepMs / 1000) / 1e9;
        return new(batch, history, stepMs, batch / (stepMs / 1000), modelLayers, modelStepMs, batch / (modelStepMs / 1000), bytes, gbs, gbs * 1e9 / peakBandwidth * 100);
    }
}

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
