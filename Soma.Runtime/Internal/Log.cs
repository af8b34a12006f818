using Microsoft.Extensions.Logging;

namespace Soma.Internal;

/// <summary>
/// Every log line Soma writes, as source-generated <see cref="LoggerMessageAttribute"/> methods: each checks
/// <see cref="ILogger.IsEnabled"/> before it formats anything, so a disabled level (or the default
/// <see cref="Microsoft.Extensions.Logging.Abstractions.NullLogger"/>) costs one call.
/// </summary>
/// <remarks>
/// Levels: Information for what happens once per engine, layer or model; Debug for pools, workspaces, snapshots
/// and skipped devices; Trace for each device pass's plan; Warning for a failed or cancelled call and what it
/// rolled back; Error when no accelerator could be opened. Nothing that runs per decode step logs above Trace.
/// </remarks>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "Soma engine on {Kind} device {Index} '{Name}' ({Processor}, {MemoryBytes} bytes, warp {WarpSize}): {Reason}.")]
    public static partial void EngineCreated(
        ILogger logger, string kind, int index, string name, string processor, long memoryBytes, int warpSize, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Skipped {Device}: {Reason}.")]
    public static partial void DeviceSkipped(ILogger logger, string device, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "No usable {Kind} accelerator: {Failures}.")]
    public static partial void NoAccelerator(ILogger logger, string kind, string failures);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Compiled and loaded {Count} kernels in {Milliseconds:F0} ms.")]
    public static partial void KernelsLoaded(ILogger logger, int count, double milliseconds);

    [LoggerMessage(EventId = 5, Level = LogLevel.Debug, Message = "Soma engine disposed ({Bytes} device bytes still held were freed with it).")]
    public static partial void EngineDisposed(ILogger logger, long bytes);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information,
        Message = "Layer {Kind}: D={ModelDim} H={Heads} Hkv={KvHeads} dh={HeadDim} window={Window} RoPE theta={RopeTheta}; {Bytes} bytes of weights uploaded.")]
    public static partial void LayerCreated(
        ILogger logger, string kind, int modelDim, int heads, int kvHeads, int headDim, int window, string ropeTheta, long bytes);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Model of {Layers} layers created.")]
    public static partial void ModelCreated(ILogger logger, int layers);

    [LoggerMessage(EventId = 12, Level = LogLevel.Debug, Message = "Session pool of {Capacity} sessions: {Bytes} bytes of state ({StateBytes} each).")]
    public static partial void PoolCreated(ILogger logger, int capacity, long bytes, long stateBytes);

    [LoggerMessage(EventId = 13, Level = LogLevel.Debug, Message = "Workspace grows to {Rows} rows and {Segments} sessions a pass.")]
    public static partial void WorkspaceGrows(ILogger logger, int rows, int segments);

    [LoggerMessage(EventId = 14, Level = LogLevel.Trace,
        Message = "Pass of {Tokens} tokens for {Sessions} sessions: QKV projection chunkK={QkvChunkK} kSlices={QkvSlices}, output projection chunkK={OutChunkK} kSlices={OutSlices}, {Splits} attention splits.")]
    public static partial void PassPlanned(
        ILogger logger, int tokens, int sessions, int qkvChunkK, int qkvSlices, int outChunkK, int outSlices, int splits);

    [LoggerMessage(EventId = 15, Level = LogLevel.Debug, Message = "Call of {Tokens} tokens for {Sessions} sessions runs as {Passes} pipelined passes.")]
    public static partial void CallPipelined(ILogger logger, int tokens, int sessions, int passes);

    [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "Loaded a snapshot at position {Position} into {Sessions} session(s).")]
    public static partial void SnapshotLoaded(ILogger logger, long position, int sessions);

    [LoggerMessage(EventId = 30, Level = LogLevel.Warning, Message = "A call failed before its commit; no session changed.")]
    public static partial void CallFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 31, Level = LogLevel.Warning, Message = "A call failed or was cancelled after committing passes; rolled back {Sessions} session slot(s) to their state before it.")]
    public static partial void CallRolledBack(ILogger logger, int sessions, Exception exception);

    [LoggerMessage(EventId = 32, Level = LogLevel.Error, Message = "Restoring the sessions after a failed call failed; the sessions of the call may hold part of it.")]
    public static partial void CommitFailed(ILogger logger, Exception exception);
}
