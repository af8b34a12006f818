using ILGPU;
using ILGPU.Runtime;
using Microsoft.Extensions.Logging;
using Soma.Internal;

namespace Soma;

/// <summary>
/// Owns one ILGPU context and accelerator (<see cref="Create"/>), or uses a caller's accelerator without owning it
/// (<see cref="Attach"/>), with the compiled Soma kernels and their launch shapes. Create layers from it; dispose it
/// last. Everything it hands out that holds device memory is <see cref="IDisposable"/>.
/// </summary>
public sealed partial class SomaEngine : IDisposable
{
    private readonly Context? context;
    private readonly List<WeakReference<IDisposable>> children = new();
    private readonly object claims = new();
    private int activeClaims;
    private volatile bool disposed;

    private SomaEngine(Context? context, Accelerator accelerator, SomaDeviceInfo device, SomaEngineOptions options, ILogger logger)
    {
        this.context = context;
        Accelerator = accelerator;
        Device = device;
        Options = options;
        Logger = logger;
        LayerLogger = options.LoggerFactory.CreateLogger<SomaLayer>();
        Ledger = new AllocationLedger();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Kernels = new KernelSet(accelerator);
        var description = DeviceDescription.Of(accelerator, device.PeakBandwidth);

        // GPUs: ILGPU's estimate of the compiled kernels (registers count too). The CPU accelerator's estimate is its
        // simulated threads over the group size, device-wide rather than per multiprocessor: its description answers.
        Occupancy = description.IsCpu ? description : new LiveOccupancy(accelerator, Kernels, description);
        Shapes = new LaunchShapes(description, options.Tuning, Occupancy);
        Telemetry = new Telemetry();
        Log.KernelsLoaded(logger, KernelSet.LoadedAtStart, clock.Elapsed.TotalMilliseconds);
    }

    /// <summary>The device this engine runs on.</summary>
    public SomaDeviceInfo Device { get; }

    /// <summary>Device bytes currently held by layers, sessions and scratch of this engine.</summary>
    public long AllocatedBytes => Ledger.Bytes;

    /// <summary>Device buffers currently held by this engine's objects.</summary>
    public long AllocatedBuffers => Ledger.Buffers;

    /// <summary>
    /// The ILGPU accelerator the engine runs on: where the device views of the <c>ArrayView</c> call overloads must
    /// live. Owned by the engine when it was made by <see cref="Create"/> (do not dispose it), the caller's when
    /// attached (<see cref="Attach"/>).
    /// </summary>
    public Accelerator Accelerator { get; }

    /// <summary>Whether the engine was attached to a caller's accelerator (<see cref="Attach"/>), which it then never disposes.</summary>
    public bool IsAttached => context is null;

    /// <summary>The options the engine was created with (its logger factory and input checks apply to every object of it).</summary>
    internal SomaEngineOptions Options { get; }

    /// <summary>Category Soma.SomaEngine: devices, kernels, disposal.</summary>
    internal ILogger Logger { get; }

    /// <summary>Category Soma.SomaLayer: layers, models, pools, workspaces, snapshots, plans, failures.</summary>
    internal ILogger LayerLogger { get; }

    internal AllocationLedger Ledger { get; }

    internal LaunchShapes Shapes { get; }

    /// <summary>The kernels' occupancy on this engine's accelerator, which its launch shapes are sized by.</summary>
    internal IOccupancy Occupancy { get; }

    internal KernelSet Kernels { get; }

    /// <summary>The engine's meter and activity source "Soma" (<see cref="Internal.Telemetry"/>).</summary>
    internal Telemetry Telemetry { get; }

    /// <summary>
    /// Lists every device ILGPU sees: the CPU accelerator (in the shape <paramref name="options"/> gives), CUDA and
    /// OpenCL devices, each with whether Soma can run on it.
    /// </summary>
    public static IReadOnlyList<SomaDeviceInfo> ListDevices(SomaEngineOptions? options = null)
    {
        options ??= new SomaEngineOptions();
        using var context = DeviceCatalog.CreateContext(options, SomaAcceleratorKind.Auto);
        return DeviceCatalog.Describe(context);
    }

    /// <summary>
    /// Opens the accelerator <paramref name="options"/> asks for (default: the best present) and loads the kernels.
    /// Throws <see cref="InvalidOperationException"/> when no such device exists or none is usable.
    /// </summary>
    public static SomaEngine Create(SomaEngineOptions? options = null)
    {
        options ??= new SomaEngineOptions();
        var logger = options.LoggerFactory.CreateLogger<SomaEngine>();
        var context = DeviceCatalog.CreateContext(options, options.Accelerator);
        try
        {
            var devices = DeviceCatalog.Describe(context);
            var order = options.Accelerator == SomaAcceleratorKind.Auto
                ? new[] { SomaAcceleratorKind.Cuda, SomaAcceleratorKind.OpenCL, SomaAcceleratorKind.Cpu }
                : new[] { options.Accelerator };
            var failures = new List<string>();
            foreach (var kind in order)
            {
                // Auto takes OpenCL GPUs only: OpenCL CPU runtimes (PoCL) gain nothing over the CPU accelerator, and
                // PoCL 3.x aborted the process compiling our barrier kernels on an H100 host.
                var candidates = devices
                    .Where(d => d.Kind == kind && !(options.Accelerator == SomaAcceleratorKind.Auto && d.IsOpenClCpu))
                    .ToList();
                foreach (var skipped in devices.Where(d => d.Kind == kind && options.Accelerator == SomaAcceleratorKind.Auto && d.IsOpenClCpu))
                {
                    Log.DeviceSkipped(logger, skipped.ToString(), "automatic selection skips OpenCL CPU devices");
                }
                int wanted = options.Accelerator == SomaAcceleratorKind.Auto ? -1 : options.DeviceIndex;
                foreach (var info in candidates.Where(d => wanted < 0 || d.Index == wanted))
                {
                    if (!info.Usable)
                    {
                        failures.Add($"{info}");
                        Log.DeviceSkipped(logger, info.ToString(), "not usable");
                        continue;
                    }

                    Accelerator? accelerator = null;
                    try
                    {
                        accelerator = DeviceCatalog.DeviceOf(context, info).CreateAccelerator(context);
                        Log.EngineCreated(
                            logger, KindName(info.Kind), info.Index, info.Name, info.ProcessorType, info.MemoryBytes, info.WarpSize,
                            Reason(options, info, failures));
                        return new SomaEngine(context, accelerator, info, options, logger);
                    }
                    catch (Exception ex) when (options.Accelerator == SomaAcceleratorKind.Auto && ex is not OutOfMemoryException)
                    {
                        accelerator?.Dispose();
                        failures.Add($"{info}: {ex.Message}");
                        Log.DeviceSkipped(logger, info.ToString(), ex.Message);
                    }
                }

                if (options.Accelerator != SomaAcceleratorKind.Auto && candidates.Count <= options.DeviceIndex)
                {
                    failures.Add($"no {kind.ToString().ToLowerInvariant()} device with index {options.DeviceIndex} ({candidates.Count} present)");
                }
            }

            Log.NoAccelerator(logger, KindName(options.Accelerator), string.Join("; ", failures));
            throw new InvalidOperationException(
                $"No usable {options.Accelerator.ToString().ToLowerInvariant()} accelerator: {string.Join("; ", failures)}.");
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>
    /// An engine on a caller's ILGPU <paramref name="accelerator"/>, for a library embedded in a larger ILGPU
    /// pipeline: layers, sessions and models of it allocate their memory, streams and kernels on that accelerator,
    /// and their calls take device views on it (<see cref="SomaSession.Decode(ArrayView{float}, ArrayView{float}, AcceleratorStream?)"/>
    /// and the other <c>ArrayView</c> overloads). The engine never disposes the accelerator or its context: disposing
    /// the engine frees only what Soma allocated, and the accelerator stays usable. Dispose the engine before the
    /// accelerator. The accelerator's context must have ILGPU.Algorithms enabled (<c>Context.Builder.EnableAlgorithms()</c>),
    /// as Soma's kernels use it; <see cref="SomaEngineOptions.Accelerator"/>, <see cref="SomaEngineOptions.DeviceIndex"/>
    /// and the CPU device shape of <paramref name="options"/> are not used.
    /// </summary>
    /// <param name="accelerator">The caller's accelerator (CPU, CUDA or OpenCL); not disposed.</param>
    /// <param name="options">Logging, input checks and tuning; null for the defaults.</param>
    /// <exception cref="ArgumentException">The accelerator is disposed, or its context lacks the algorithms library.</exception>
    public static SomaEngine Attach(Accelerator accelerator, SomaEngineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        if (accelerator.IsDisposed)
        {
            throw new ArgumentException("accelerator is disposed.", nameof(accelerator));
        }

        options ??= new SomaEngineOptions();
        var logger = options.LoggerFactory.CreateLogger<SomaEngine>();
        var info = DeviceCatalog.Describe(accelerator);
        try
        {
            var engine = new SomaEngine(null, accelerator, info, options, logger);
            Log.EngineCreated(
                logger, KindName(info.Kind), info.Index, info.Name, info.ProcessorType, info.MemoryBytes, info.WarpSize, "attached to the caller's accelerator");
            return engine;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not ArgumentException)
        {
            throw new ArgumentException(
                $"Soma's kernels could not be loaded on the accelerator ({ex.Message}); its context must be created with EnableAlgorithms().",
                nameof(accelerator), ex);
        }
    }

    /// <summary>
    /// Disposes every layer still open (each waits for the call running on it), waits until no session of this
    /// engine is claimed by a call any more (calls that had not reached their layer end in
    /// <see cref="ObjectDisposedException"/>), then frees the accelerator and the context (unless attached: an attached
    /// engine leaves the caller's accelerator and context as they are). Never throws; a second call does nothing. Do
    /// not call it from inside a call on this engine.
    /// </summary>
    public void Dispose()
    {
        lock (claims)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
        }

        long held = Ledger.Bytes;
        lock (children)
        {
            foreach (var child in children)
            {
                if (child.TryGetTarget(out var target))
                {
                    target.Dispose();
                }
            }

            children.Clear();
        }

        lock (claims)
        {
            while (activeClaims > 0)
            {
                Monitor.Wait(claims);
            }
        }

        if (context is not null)
        {
            Accelerator.Dispose();
            context.Dispose();
        }

        Telemetry.Dispose();
        Log.EngineDisposed(Logger, held);
    }

    private T Track<T>(T child)
        where T : IDisposable
    {
        lock (children)
        {
            children.Add(new WeakReference<IDisposable>(child));
        }

        return child;
    }

    /// <summary>
    /// Throws <see cref="ObjectDisposedException"/> naming <see cref="SomaEngine"/> once the engine is disposed. Every
    /// object of the engine calls this first, so using a layer, session, pool or model after disposing its engine
    /// says that the engine was disposed (not that the object was).
    /// </summary>
    internal void ThrowIfDisposed()
    {
        if (disposed)
        {
            throw new ObjectDisposedException(
                nameof(SomaEngine),
                "The SomaEngine that created this object was disposed, which disposed its layers, pools, sessions and models; create a new engine.");
        }
    }

    /// <summary>
    /// Counts a session claim (see <see cref="SomaSession.Claim"/>): from here until <see cref="EndClaim"/> the
    /// accelerator stays alive. Throws <see cref="ObjectDisposedException"/> once <see cref="Dispose"/> has begun.
    /// </summary>
    internal void BeginClaim()
    {
        lock (claims)
        {
            ThrowIfDisposed();
            activeClaims++;
        }
    }

    /// <summary>Ends a claim counted by <see cref="BeginClaim"/>; the last one lets a waiting <see cref="Dispose"/> go on.</summary>
    internal void EndClaim()
    {
        lock (claims)
        {
            if (--activeClaims == 0)
            {
                Monitor.PulseAll(claims);
            }
        }
    }

    internal DeviceBuffer<T> Allocate<T>(long length)
        where T : unmanaged => new(Accelerator, Ledger, length);

    private static string KindName(SomaAcceleratorKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>Why <paramref name="chosen"/> was opened, for the engine's first log line.</summary>
    private static string Reason(SomaEngineOptions options, SomaDeviceInfo chosen, List<string> failures)
    {
        if (options.Accelerator != SomaAcceleratorKind.Auto)
        {
            return $"asked for ({KindName(options.Accelerator)}, device index {options.DeviceIndex})";
        }

        var before = chosen.Kind switch
        {
            SomaAcceleratorKind.Cuda => "",
            SomaAcceleratorKind.OpenCL => "; no usable CUDA device",
            _ => "; no usable CUDA or OpenCL GPU device",
        };
        return $"automatic selection (CUDA, then OpenCL GPU, then the CPU accelerator){before}" +
            (failures.Count > 0 ? $"; passed over: {string.Join("; ", failures)}" : "");
    }
}
