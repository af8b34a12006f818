using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// The device numbers launch planning reads (<see cref="LaunchShapes"/>), as data: taken from a live accelerator
/// (<see cref="Of"/>, the one place that reads them) or written down for a device that is not here
/// (<see cref="H100Sxm"/>, <see cref="H200"/>), so that a plan for a GPU can be built on a machine without one.
/// Validated when constructed.
/// </summary>
internal sealed record DeviceDescription
{
    private readonly double? peakFp32Flops;
    private readonly int? sharedMemoryPerMultiprocessor;
    private readonly int sharedMemoryReservedPerGroup;
    private readonly int? maxGroupsPerMultiprocessor;
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
    public DeviceDescription(
        string name,
        AcceleratorType kind,
        int multiprocessors,
        int warpSize,
        int maxGroupSize,
        int maxThreadsPerMultiprocessor,
        int sharedMemoryPerGroup,
        double? memoryBandwidth)
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
    }

    /// <summary>
    /// NVIDIA H100 SXM5 (80 GB HBM3), from NVIDIA's published specs, not measured: 132 SMs and 3.35 TB/s (H100
    /// datasheet, SXM column; Hopper architecture whitepaper); warp 32, 1024 threads per block, 2048 resident threads
    /// per SM (CUDA programming guide, compute capability 9.0); 48 KB shared memory per block, the default
    /// per-block limit (cudaDevAttrMaxSharedMemoryPerBlock) that ILGPU reports as MaxSharedMemoryPerGroup (the 227 KB
    /// opt-in is not used by ILGPU).
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
    /// per block as ILGPU reports it) with 4.8 TB/s memory bandwidth (H200 datasheet, SXM column).
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

    /// <summary>Shared memory of one multiprocessor, in bytes, shared by its resident groups; null when unknown. Only the performance model reads it.</summary>
    public int? SharedMemoryPerMultiprocessor
    {
        get => sharedMemoryPerMultiprocessor;
        init => sharedMemoryPerMultiprocessor = value is { } v ? AtLeast(v, SharedMemoryPerGroup, nameof(SharedMemoryPerMultiprocessor)) : null;
    }

    /// <summary>Shared memory the device reserves for each resident group besides what the group asks for, in bytes (&gt;= 0; 0 unless given).</summary>
    public int SharedMemoryReservedPerGroup
    {
        get => sharedMemoryReservedPerGroup;
        init => sharedMemoryReservedPerGroup = AtLeast(value, 0, nameof(SharedMemoryReservedPerGroup));
    }

    /// <summary>Most groups resident on one multiprocessor whatever their size; null when unknown. Only the performance model reads it.</summary>
    public int? MaxGroupsPerMultiprocessor
    {
        get => maxGroupsPerMultiprocessor;
        init => maxGroupsPerMultiprocessor = value is { } v ? AtLeast(v, 1, nameof(MaxGroupsPerMultiprocessor)) : null;
    }

    /// <summary>Host-to-device (and device-to-host) bandwidth one way, in bytes per second; null when unknown. Only the performance model reads it.</summary>
    public double? HostLinkBandwidth
    {
        get => hostLinkBandwidth;
        init => hostLinkBandwidth = Positive(value, nameof(HostLinkBandwidth));
    }

    /// <summary>
    /// An SXM Hopper GPU (GH100 with 132 SMs, compute capability 9.0, PCIe Gen5 x16: the numbers of <see cref="H100Sxm"/>
    /// and <see cref="H200"/>, which differ only in memory) named <paramref name="name"/> with <paramref name="memoryBandwidth"/>.
    /// </summary>
    /// <param name="name">The description's name.</param>
    /// <param name="memoryBandwidth">Peak device-memory bandwidth in bytes per second.</param>
    public static DeviceDescription Hopper(string name, double memoryBandwidth) => new(
        name, AcceleratorType.Cuda, multiprocessors: 132, warpSize: 32, maxGroupSize: 1024,
        maxThreadsPerMultiprocessor: 2048, sharedMemoryPerGroup: 48 * 1024, memoryBandwidth)
    {
        PeakFp32Flops = 67e12,
        SharedMemoryPerMultiprocessor = 228 * 1024,
        SharedMemoryReservedPerGroup = 1024,
        MaxGroupsPerMultiprocessor = 32,
        HostLinkBandwidth = 64e9,
    };

    /// <summary>The description of a live accelerator: the one place launch planning reads an accelerator's numbers.</summary>
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
        memoryBandwidth);

    /// <summary>The value when null or finite and &gt; 0, else an <see cref="ArgumentOutOfRangeException"/> naming <paramref name="name"/>.</summary>
    private static double? Positive(double? value, string name) =>
        value is { } v && !(v > 0 && double.IsFinite(v))
            ? throw new ArgumentOutOfRangeException(name, value, $"{name} must be a finite number > 0, or null when unknown.")
            : value;

    /// <summary>The value, or an <see cref="ArgumentOutOfRangeException"/> naming <paramref name="name"/> when it is below <paramref name="min"/>.</summary>
    private static int AtLeast(int value, int min, string name) =>
        value < min ? throw new ArgumentOutOfRangeException(name, value, $"{name} must be >= {min}.") : value;
}
