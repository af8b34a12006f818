namespace Soma;

/// <summary>
/// What one completed call did on the device, counted by the runtime as it launched (not measured by a profiler):
/// <see cref="SomaLayer.LastCallProfile"/> for a layer's part of its last call, <see cref="SomaModel.LastCallProfile"/>
/// the sum over the model's layers of its last call. Device bytes and FLOPs are computed from the plans' shapes
/// (weights and ring at the layer's storage types, the rest fp32; formulas in <c>Internal/PassCost.cs</c> and docs/architecture.md).
/// </summary>
/// <param name="Kind">Decode (one token a session) or prefill.</param>
/// <param name="Rows">Tokens of the call, over all its sessions.</param>
/// <param name="Sessions">Sessions (sequences) of the call.</param>
/// <param name="Passes">Device passes the rows were cut into (per layer, summed over layers for a model).</param>
/// <param name="LaunchesByKernel">Kernel launches by kernel name (names of the kernel catalog; kernels not launched are absent).</param>
/// <param name="Uploads">
/// Host-to-device copies enqueued: one block per pass, holding the pass's metadata and, for host input, its rows
/// (<see cref="UploadBytes"/> tells the two apart: a call on device views uploads metadata only).
/// </param>
/// <param name="Downloads">Device-to-host copies enqueued (output rows; none for a call on device views).</param>
/// <param name="HostWaits">Times the host waited for a stream (stream synchronizations).</param>
/// <param name="DeviceCopies">Device-to-device copies (none: each commit saves what it overwrites in its own launch).</param>
/// <param name="DeviceBytesRead">Device bytes the launches must read.</param>
/// <param name="DeviceBytesWritten">Device bytes the launches must write.</param>
/// <param name="Flops">Floating-point operations of the launches (a multiply-add counts 2).</param>
/// <param name="Duration">Wall time of the whole call (claim to publish), on the host clock.</param>
/// <param name="ManagedBytesAllocated">
/// Managed bytes the calling thread allocated during the whole call (<see cref="GC.GetAllocatedBytesForCurrentThread"/>;
/// the same value on every layer of a model call, not summed).
/// </param>
public sealed record SomaCallProfile(
    SomaCallKind Kind,
    int Rows,
    int Sessions,
    int Passes,
    IReadOnlyDictionary<string, int> LaunchesByKernel,
    int Uploads,
    int Downloads,
    int HostWaits,
    int DeviceCopies,
    long DeviceBytesRead,
    long DeviceBytesWritten,
    long Flops,
    TimeSpan Duration,
    long ManagedBytesAllocated)
{
    /// <summary>Bytes of the host-to-device copies (metadata blocks, and input rows when x is on the host).</summary>
    public long UploadBytes { get; init; }

    /// <summary>Bytes of the device-to-host copies (output rows when y is on the host; 0 for device views).</summary>
    public long DownloadBytes { get; init; }

    /// <summary>Kernel launches of every kernel together.</summary>
    public int Launches => LaunchesByKernel.Values.Sum();
}
