using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// A projection's kernels, loaded for one epilogue: the shared tile loop (<see cref="Projection.TileKernel{TEpilogue}"/>),
/// the decode GEMV (<see cref="Kernels.Gemv.Kernel{TEpilogue}"/>) and the split-K reduce
/// (<see cref="SplitKReduce.Kernel{TEpilogue}"/>), launched as a <see cref="ProjectionLaunch"/> says.
/// </summary>
/// <typeparam name="TEpilogue">The epilogue (<see cref="BiasRopeEpilogue"/> for QKV, <see cref="BiasEpilogue"/> for the output projection).</typeparam>
internal sealed class ProjectionLauncher<TEpilogue>
    where TEpilogue : struct, IProjectionEpilogue
{
    private readonly Action<AcceleratorStream, KernelConfig, ProjectionArgs, TEpilogue> tile;
    private readonly Action<AcceleratorStream, KernelConfig, ProjectionArgs, TEpilogue> gemv;
    private readonly Action<AcceleratorStream, KernelConfig, ProjectionArgs, TEpilogue> reduce;

    /// <summary>Loads <paramref name="tile"/>, <paramref name="gemv"/> and <paramref name="reduce"/> on <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The accelerator.</param>
    /// <param name="tile">The tile loop for <typeparamref name="TEpilogue"/> (<see cref="KernelCatalog"/>).</param>
    /// <param name="gemv">The decode GEMV for <typeparamref name="TEpilogue"/>.</param>
    /// <param name="reduce">The split-K reduce for <typeparamref name="TEpilogue"/>.</param>
    public ProjectionLauncher(
        Accelerator accelerator, Action<ProjectionArgs, TEpilogue> tile, Action<ProjectionArgs, TEpilogue> gemv, Action<ProjectionArgs, TEpilogue> reduce)
    {
        this.tile = accelerator.LoadKernel(tile);
        this.gemv = accelerator.LoadKernel(gemv);
        this.reduce = accelerator.LoadKernel(reduce);
    }

    /// <summary>The compiled tile loop (for occupancy estimates).</summary>
    public Kernel Tile => tile.GetKernel();

    /// <summary>The compiled decode GEMV.</summary>
    public Kernel Gemv => gemv.GetKernel();

    /// <summary>The compiled split-K reduce.</summary>
    public Kernel Reduce => reduce.GetKernel();

    /// <summary>
    /// Enqueues the projection as <paramref name="launch"/> plans it: the tile loop or the GEMV, then the reduce when split. The
    /// operands' tiling is the entry's (whatever <paramref name="operands"/> holds).
    /// </summary>
    /// <param name="stream">The stream.</param>
    /// <param name="launch">The plan's entry.</param>
    /// <param name="operands">x, the weight and the shapes (the partial buffer at least <see cref="ProjectionLaunch.PartialFloats"/> when split).</param>
    /// <param name="epilogue">Bias and outputs.</param>
    public void Launch(AcceleratorStream stream, ProjectionLaunch launch, ProjectionArgs operands, TEpilogue epilogue)
    {
        operands.Tiling = launch.Tiling;
        (launch.Tiling.Gemv != 0 ? gemv : tile)(stream, launch.Config, operands, epilogue);
        if (launch.IsSplit)
        {
            reduce(stream, launch.ReduceConfig, operands, epilogue);
        }
    }
}
