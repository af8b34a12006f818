using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// The device numbers launch planning reads (<see cref="LaunchShapes"/>), as data: taken from a live accelerator
/// (<see cref="Of"/>, the one place that reads them) or written down for a device that is not here
/// (<see cref="H100Sxm"/>, <see cref="H200"/>), so that a plan for a GPU can be built on a machine without one.
/// Validated when constructed.
/// </summary>
internal sealed record DeviceDescription : IOccupancy
{
    private readonly double? peakFp32Flops;
    private readonly double? hostLinkBandwidth;

    /// <summary>A description of a device; every count must be possible, or an <see cref="ArgumentException"/> names the value.</summary>
    /// <param name="name">The device's name (not blank).</param>
    /// <param name="kind">The accelerator type; <see cref="AcceleratorType.CPU"/> plans for ILGPU's CPU accelerator, any other type for a GPU.</param>
    /// <param name="multiprocessors">Multiprocessors (SMs) (&gt;= 1).</param>
    /// <param name="warpSize">Threads per warp (&gt;= 1).</param>
    /// <param name="maxGroupSize">Most threads per group (&gt;= <paramref name="warpSize"/>).</param>
    /// <param name="maxThreadsPerMultiprocessor">Most resident threads per multiprocessor (&gt;= <paramref name="maxGroupSize"/>).</param>
    /// <param name="sharedMemoryPerGroup">Shared memory a group may use, in bytes (&gt;= 1).</param>
    /// <param name="memoryBandwidth">Peak device-memory bandwidth in bytes per second (&gt; 0), or null when unknown.</param>
    /// <param name="maxGroupsPerMultiprocessor">Most resident groups per multiprocessor (&gt;= 1), or null when unknown (no limit but threads).</param>
    /// <param name="sharedMemoryPerMultiprocessor">Shared memory per multiprocessor in bytes (&gt;= <paramref name="sharedMemoryPerGroup"/>), or null when unknown.</param>
    /// <param name="sharedMemoryReservedPerGroup">Shared memory the system reserves per resident group, in bytes (&gt;= 0).</param>
    public DeviceDescription(
        string name,
        AcceleratorType kind,
        int multiprocessors,
        int warpSize,
        int maxGroupSize,
        int maxThreadsPerMultiprocessor,
        int sharedMemoryPerGroup,
        double? memoryBandwidth,
        int? maxGroupsPerMultiprocessor = null,
        int? sharedMemoryPerMultiprocessor = null,
        int sharedMemoryReservedPerGroup = 0)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new ArgumentException("A device description needs a name.", nameof(name));
        }

        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "kind must be a defined AcceleratorType.");
        }

        Name = name;
        Kind = kind;
        Multiprocessors = AtLeast(multiprocessors, 1, nameof(multiprocessors));
        WarpSize = AtLeast(warpSize, 1, nameof(warpSize));
        MaxGroupSize = AtLeast(maxGroupSize, warpSize, nameof(maxGroupSize));
        MaxThreadsPerMultiprocessor = AtLeast(maxThreadsPerMultiprocessor, maxGroupSize, nameof(maxThreadsPerMultiprocessor));
        SharedMemoryPerGroup = AtLeast(sharedMemoryPerGroup, 1, nameof(sharedMemoryPerGroup));
        if (memoryBandwidth is { } bandwidth && !(bandwidth > 0 && double.IsFinite(bandwidth)))
        {
            throw new ArgumentOutOfRangeException(
                nameof(memoryBandwidth), memoryBandwidth, "memoryBandwidth must be a finite number of bytes per second > 0, or null when unknown.");
        }

        MemoryBandwidth = memoryBandwidth;
        MaxGroupsPerMultiprocessor = maxGroupsPerMultiprocessor is { } groups ? AtLeast(groups, 1, nameof(maxGroupsPerMultiprocessor)) : null;
        SharedMemoryPerMultiprocessor = sharedMemoryPerMultiprocessor is { } perMp
            ? AtLeast(perMp, sharedMemoryPerGroup, nameof(sharedMemoryPerMultiprocessor))
            : null;
        SharedMemoryReservedPerGroup = AtLeast(sharedMemoryReservedPerGroup, 0, nameof(sharedMemoryReservedPerGroup));
    }

    /// <summary>
    /// NVIDIA H100 SXM5 (80 GB HBM3), from NVIDIA's published specs, not measured: 132 SMs and 3.35 TB/s (H100
    /// datasheet, SXM column; Hopper architecture whitepaper); warp 32, 1024 threads per block, 2048 resident threads
    /// per SM (CUDA programming guide, compute capability 9.0); 48 KB shared memory per block, the default
    /// per-block limit (cudaDevAttrMaxSharedMemoryPerBlock) that ILGPU reports as MaxSharedMemoryPerGroup (the 227 KB
    /// opt-in is not used by ILGPU); 32 resident blocks and 228 KB shared memory per SM, of which 1 KB is reserved
    /// per resident block (CUDA programming guide, compute capabilities table and shared memory section for 9.0).
    /// </summary>
    /// <remarks>
    /// The numbers only the performance model reads (<see cref="PerformanceModel"/>), also NVIDIA's published specs:
    /// 67 TFLOPS FP32 (H100 datasheet, SXM column; the kernels' fp32 FMAs run on the CUDA cores, not the tensor
    /// cores); 228 KB shared memory per SM, of which 1 KB is reserved per block, and at most 32 resident blocks per
    /// SM (Hopper tuning guide; CUDA programming guide, compute capability 9.0); PCIe Gen5 x16, 128 GB/s both
    /// directions together, so 64 GB/s each way (H100 datasheet).
    /// </remarks>
    public static DeviceDescription H100Sxm { get; } = Hopper("NVIDIA H100 SXM (spec)", 3.35e12);

    /// <summary>
    /// NVIDIA H200 SXM (141 GB HBM3e), from NVIDIA's published specs, not measured: the same Hopper GPU as the H100
    /// SXM (132 SMs, compute capability 9.0: warp 32, 1024 threads per block, 2048 threads per SM, 48 KB shared memory
    /// per block as ILGPU reports it, 32 blocks and 228 KB shared memory per SM, 1 KB reserved per block) with
    /// 4.8 TB/s memory bandwidth (H200 datasheet, SXM column).
    /// </summary>
    /// <remarks>
    /// For the performance model: 67 TFLOPS FP32 (H200 datasheet, SXM column); the same SMs as the H100 (228 KB
    /// shared memory per SM, 1 KB reserved per block, 32 resident blocks per SM); PCIe Gen5 x16, 128 GB/s both
    /// directions together, 64 GB/s each way (H200 datasheet).
    /// </remarks>
    public static DeviceDescription H200 { get; } = Hopper("NVIDIA H200 (spec)", 4.8e12);

    /// <summary>The device's name.</summary>
    public string Name { get; }

    /// <summary>The accelerator type (CPU, or a GPU type).</summary>
    public AcceleratorType Kind { get; }

    /// <summary>Whether the description is of ILGPU's CPU accelerator (planned differently from GPUs).</summary>
    public bool IsCpu => Kind == AcceleratorType.CPU;

    /// <summary>Multiprocessors (SMs).</summary>
    public int Multiprocessors { get; }

    /// <summary>Threads per warp.</summary>
    public int WarpSize { get; }

    /// <summary>Most threads per group.</summary>
    public int MaxGroupSize { get; }

    /// <summary>Most resident threads per multiprocessor.</summary>
    public int MaxThreadsPerMultiprocessor { get; }

    /// <summary>Shared memory a group may use, in bytes.</summary>
    public int SharedMemoryPerGroup { get; }

    /// <summary>Peak device-memory bandwidth in bytes per second; null when unknown (the CPU accelerator, OpenCL).</summary>
    public double? MemoryBandwidth { get; }

    /// <summary>Peak fp32 FLOPs per second on the CUDA cores (a multiply-add counts 2); null when unknown. Only the performance model reads it.</summary>
    public double? PeakFp32Flops
    {
        get => peakFp32Flops;
        init => peakFp32Flops = Positive(value, nameof(PeakFp32Flops));
    }

    /// <summary>Host-to-device (and device-to-host) bandwidth one way, in bytes per second; null when unknown. Only the performance model reads it.</summary>
    public double? HostLinkBandwidth
    {
        get => hostLinkBandwidth;
        init => hostLinkBandwidth = Positive(value, nameof(HostLinkBandwidth));
    }

    /// <summary>Most resident groups per multiprocessor; null when unknown (then only threads and shared memory limit).</summary>
    public int? MaxGroupsPerMultiprocessor { get; }

    /// <summary>Shared memory per multiprocessor in bytes; null when unknown (then shared memory does not limit residency).</summary>
    public int? SharedMemoryPerMultiprocessor { get; }

    /// <summary>Shared memory the system reserves per resident group, in bytes.</summary>
    public int SharedMemoryReservedPerGroup { get; }

    /// <summary>
    /// The occupancy these limits allow (registers are not described, so they do not count): the fewest of threads
    /// per multiprocessor / <paramref name="groupSize"/>, <see cref="MaxGroupsPerMultiprocessor"/>, and shared memory
    /// per multiprocessor / (<paramref name="sharedBytes"/> + the per-group reserve) when the group uses any.
    /// </summary>
    /// <param name="kernel">The kernel (the same limits hold for every kernel).</param>
    /// <param name="groupSize">Threads per group.</param>
    /// <param name="sharedBytes">Dynamic shared memory per group, in bytes.</param>
    public int GroupsPerMultiprocessor(string kernel, int groupSize, int sharedBytes)
    {
        int groups = MaxThreadsPerMultiprocessor / Math.Max(1, groupSize);
        if (MaxGroupsPerMultiprocessor is { } maxGroups)
        {
            groups = Math.Min(groups, maxGroups);
        }

        if (sharedBytes > 0 && SharedMemoryPerMultiprocessor is { } perMp)
        {
            groups = Math.Min(groups, perMp / (sharedBytes + SharedMemoryReservedPerGroup));
        }

        return groups;
    }

    /// <summary>
    /// An SXM Hopper GPU (GH100 with 132 SMs, compute capability 9.0, PCIe Gen5 x16: the numbers of <see cref="H100Sxm"/>
    /// and <see cref="H200"/>, which differ only in memory) named <paramref name="name"/> with <paramref name="memoryBandwidth"/>.
    /// </summary>
    /// <param name="name">The description's name.</param>
    /// <param name="memoryBandwidth">Peak device-memory bandwidth in bytes per second.</param>
    public static DeviceDescription Hopper(string name, double memoryBandwidth) => new(
        name, AcceleratorType.Cuda, multiprocessors: 132, warpSize: 32, maxGroupSize: 1024,
        maxThreadsPerMultiprocessor: 2048, sharedMemoryPerGroup: 48 * 1024, memoryBandwidth,
        maxGroupsPerMultiprocessor: 32, sharedMemoryPerMultiprocessor: 228 * 1024, sharedMemoryReservedPerGroup: 1024)
    {
        PeakFp32Flops = 67e12,
        HostLinkBandwidth = 64e9,
    };

    /// <summary>
    /// The description of a live accelerator: the one place launch planning reads an accelerator's numbers. ILGPU
    /// reports shared memory per multiprocessor for CUDA only, and neither groups per multiprocessor nor the per-group
    /// reserve (a live GPU's occupancy comes from <see cref="LiveOccupancy"/>).
    /// </summary>
    /// <param name="accelerator">The accelerator.</param>
    /// <param name="memoryBandwidth">Its peak bandwidth in bytes per second (<see cref="SomaDeviceInfo.PeakBandwidth"/>), or null when unknown.</param>
    public static DeviceDescription Of(Accelerator accelerator, double? memoryBandwidth = null) => new(
        accelerator.Name,
        accelerator.AcceleratorType,
        accelerator.NumMultiprocessors,
        accelerator.WarpSize,
        accelerator.MaxNumThreadsPerGroup,
        accelerator.MaxNumThreadsPerMultiprocessor,
        accelerator.MaxSharedMemoryPerGroup,
        memoryBandwidth,
        sharedMemoryPerMultiprocessor: (accelerator as ILGPU.Runtime.Cuda.CudaAccelerator)?.MaxSharedMemoryPerMultiprocessor);

    /// <summary>The value when null or finite and &gt; 0, else an <see cref="ArgumentOutOfRangeException"/> naming <paramref name="name"/>.</summary>
    private static double? Positive(double? value, string name) =>
        value is { } v && !(v > 0 && double.IsFinite(v))
            ? throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number > 0, or null when unknown.")
            : value;

    /// <summary>The value, or an <see cref="ArgumentOutOfRangeException"/> naming <paramref name="name"/> when it is below <paramref name="min"/>.</summary>
    private static int AtLeast(int value, int min, string name) =>
        value < min ? throw new ArgumentOutOfRangeException(name, value, $"{name} must be >= {min}.") : value;
}
