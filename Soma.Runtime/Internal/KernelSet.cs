using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// Every Soma kernel of <see cref="KernelCatalog"/>, compiled and loaded once per engine, behind typed launchers
/// that take the plan's entry for their launch (<see cref="LaunchPlan"/>): for example
/// <c>kernels.Qkv.Launch(stream, plan.Qkv, operands, epilogue)</c> runs the QKV tile loop and, when the plan splits K, its reduce.
/// </summary>
internal sealed class KernelSet
{
    private readonly Dictionary<string, Kernel> compiled;
    private readonly Lazy<DecoderKernels> decoder;

    /// <summary>Compiles and loads every kernel on <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The engine's accelerator.</param>
    public KernelSet(Accelerator accelerator)
    {
        Qkv = new(accelerator, KernelCatalog.Qkv, KernelCatalog.QkvGemv, KernelCatalog.QkvReduce);
        Linear = new(accelerator, KernelCatalog.Linear, KernelCatalog.LinearGemv, KernelCatalog.LinearReduce);
        Attention = new(accelerator);
        RopeTable = new(accelerator, KernelCatalog.RopeTable);
        FieldScan = new(accelerator, KernelCatalog.FieldScan);
        Commit = new(accelerator, KernelCatalog.Commit);
        compiled = new Dictionary<string, Kernel>
        {
            ["rope-table"] = RopeTable.Kernel,
            ["qkv"] = Qkv.Tile,
            ["qkv-gemv"] = Qkv.Gemv,
            ["qkv-reduce"] = Qkv.Reduce,
            ["field-scan"] = FieldScan.Kernel,
            ["attention"] = Attention.Kernel,
            ["attention-combine"] = Attention.Combine,
            ["linear"] = Linear.Tile,
            ["linear-gemv"] = Linear.Gemv,
            ["linear-reduce"] = Linear.Reduce,
            ["commit"] = Commit.Kernel,
        };
        decoder = new Lazy<DecoderKernels>(() => new DecoderKernels(accelerator));
    }

    /// <summary>The whole-model kernels (<see cref="DecoderKernels"/>), compiled when the engine's first decoder is created.</summary>
    public DecoderKernels Decoder => decoder.Value;

    /// <summary>How many kernels the constructor compiles (the whole-model kernels wait for <see cref="Decoder"/>).</summary>
    public static int LoadedAtStart => Count - DecoderKernels.Count;

    /// <summary>How many kernels the catalog holds: what the engine compiles once it has made a decoder.</summary>
    public static int Count => KernelCatalog.All.Count;

    /// <summary>The fused QKV projection (bias, head split, RoPE): tile loop or decode GEMV, and its split-K reduce.</summary>
    public ProjectionLauncher<BiasRopeEpilogue> Qkv { get; }

    /// <summary>The output projection (bias): tile loop or decode GEMV, and its split-K reduce.</summary>
    public ProjectionLauncher<BiasEpilogue> Linear { get; }

    /// <summary>Near-field attention and its split combine.</summary>
    public AttentionLauncher Attention { get; }

    /// <summary>The RoPE cos/sin table.</summary>
    public KernelLauncher<RopeTableArgs> RopeTable { get; }

    /// <summary>The field scan.</summary>
    public KernelLauncher<FieldScanArgs> FieldScan { get; }

    /// <summary>The commit of ring rows and field.</summary>
    public KernelLauncher<CommitArgs> Commit { get; }

    /// <summary>The compiled kernel named <paramref name="name"/> in <see cref="KernelCatalog.All"/>.</summary>
    /// <param name="name">The kernel's name.</param>
    /// <remarks>A whole-model kernel's name compiles <see cref="Decoder"/> first, if no decoder has yet.</remarks>
    /// <exception cref="KeyNotFoundException">No kernel has that name.</exception>
    public Kernel Compiled(string name) => compiled.TryGetValue(name, out var kernel) ? kernel : Decoder.Compiled(name);
}
