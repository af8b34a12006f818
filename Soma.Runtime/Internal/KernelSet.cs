using System.Collections.Concurrent;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// Every Soma kernel of <see cref="KernelCatalog"/>, compiled and loaded once per engine, behind typed launchers
/// that take the plan's entry for their launch (<see cref="LaunchPlan"/>): for example
/// <c>kernels.For&lt;Float32View, Float16View&gt;().Qkv.Launch(stream, plan.Qkv, operands, weightT, epilogue)</c> runs the QKV
/// tile loop and, when the plan splits K, its reduce. The kernels that touch no stored element, and the fp32 storage
/// variants, load with the engine; another storage pair's variants (<see cref="For{TW, TR}"/>) load when the first layer
/// of those types is created, so an engine compiles only what its layers use.
/// </summary>
internal sealed class KernelSet
{
    private readonly Accelerator accelerator;
    private readonly ConcurrentDictionary<(Type Weights, Type Ring), object> variants = new();
    private readonly ConcurrentDictionary<string, Kernel> compiled = new();
    private readonly Lazy<DecoderKernels> decoder;

    /// <summary>Compiles and loads the storage-independent kernels and the fp32 variants on <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The engine's accelerator.</param>
    public KernelSet(Accelerator accelerator)
    {
        this.accelerator = accelerator;
        RopeTable = new(accelerator, KernelCatalog.RopeTable);
        FieldScan = new(accelerator, KernelCatalog.FieldScan);
        Commit = new(accelerator, KernelCatalog.Commit);
        compiled["rope-table"] = RopeTable.Kernel;
        compiled["field-scan"] = FieldScan.Kernel;
        compiled["commit"] = Commit.Kernel;
        Float32 = For<Float32View, Float32View>();
        decoder = new Lazy<DecoderKernels>(() => new DecoderKernels(accelerator));
    }

    /// <summary>The whole-model kernels (<see cref="DecoderKernels"/>), compiled when the engine's first decoder is created.</summary>
    public DecoderKernels Decoder => decoder.Value;

    /// <summary>How many kernels the constructor compiles (the whole-model kernels wait for <see cref="Decoder"/>).</summary>
    public static int LoadedAtStart => Count - DecoderKernels.Count;

    /// <summary>How many kernels there are (each layer kernel has storage variants, <see cref="KernelCatalog.Variants"/>; the whole-model kernels count once they are compiled).</summary>
    public static int Count => KernelCatalog.All.Count;

    /// <summary>The kernels of fp32 weights and an fp32 ring.</summary>
    public StorageKernels<Float32View, Float32View> Float32 { get; }

    /// <summary>The RoPE cos/sin table.</summary>
    public KernelLauncher<RopeTableArgs> RopeTable { get; }

    /// <summary>The field scan.</summary>
    public KernelLauncher<FieldScanArgs> FieldScan { get; }

    /// <summary>The commit of ring rows (raw 16-bit units, every storage type) and field.</summary>
    public KernelLauncher<CommitArgs> Commit { get; }

    /// <summary>The kernels for weights stored as <typeparamref name="TW"/> and a ring stored as <typeparamref name="TR"/>, loaded on first use.</summary>
    /// <typeparam name="TW">How the weights are stored.</typeparam>
    /// <typeparam name="TR">How the ring stores keys and values.</typeparam>
    public StorageKernels<TW, TR> For<TW, TR>()
        where TW : struct, IElementView
        where TR : struct, IElementView =>
        (StorageKernels<TW, TR>)variants.GetOrAdd((typeof(TW), typeof(TR)), static (_, self) => self.Load<TW, TR>(), this);

    /// <summary>
    /// The compiled kernel named <paramref name="name"/> in <see cref="KernelCatalog.Variants"/> (for occupancy
    /// estimates): a name of <see cref="KernelCatalog.All"/> is its fp32 variant, loaded with the engine; another
    /// storage pair's variant (e.g. "qkv-gemv-wbf16-rf16") once <see cref="For{TW, TR}"/> has loaded it.
    /// </summary>
    /// <param name="name">The kernel's name.</param>
    /// <exception cref="KeyNotFoundException">No kernel of that name is loaded.</exception>
    /// <remarks>A whole-model kernel's name compiles <see cref="Decoder"/> first, if no decoder has yet.</remarks>
    public Kernel Compiled(string name) => compiled.TryGetValue(name, out var kernel) ? kernel : Decoder.Compiled(name);

    /// <summary>Loads the variants of one storage pair and records them by name (<see cref="Compiled"/>).</summary>
    private StorageKernels<TW, TR> Load<TW, TR>()
        where TW : struct, IElementView
        where TR : struct, IElementView
    {
        var kernels = new StorageKernels<TW, TR>(accelerator);
        foreach (var (name, kernel) in kernels.Compiled())
        {
            compiled[name] = kernel;
        }

        return kernels;
    }
}
