using ILGPU;
using ILGPU.Runtime;
using Soma.Kernels;

namespace Soma.Internal;

/// <summary>
/// A projection's kernels, loaded for one weight storage type and one epilogue: the shared tile loop
/// (<see cref="Projection.TileKernel{TWeights, TEpilogue}"/>), the decode GEMV (<see cref="Kernels.Gemv.Kernel{TWeights, TEpilogue}"/>)
/// and the split-K reduce (<see cref="SplitKReduce.Kernel{TEpilogue}"/>), launched as a <see cref="ProjectionLaunch"/> says.
/// </summary>
/// <typeparam name="TWeights">How the weights are stored (<see cref="IElementView"/>).</typeparam>
/// <typeparam name="TEpilogue">The epilogue (<see cref="BiasRopeEpilogue{TRing}"/> for QKV, <see cref="BiasEpilogue"/> for the output projection).</typeparam>
internal sealed class ProjectionLauncher<TWeights, TEpilogue>
    where TWeights : struct, IElementView
    where TEpilogue : struct, IProjectionEpilogue
{
    private readonly Action<AcceleratorStream, KernelConfig, ProjectionArgs, TWeights, TEpilogue> tile;
    private readonly Action<AcceleratorStream, KernelConfig, ProjectionArgs, TWeights, TEpilogue> gemv;
    private readonly Action<AcceleratorStream, KernelConfig, ProjectionArgs, TEpilogue> reduce;

    /// <summary>Loads <paramref name="tile"/>, <paramref name="gemv"/> and <paramref name="reduce"/> on <paramref name="accelerator"/>.</summary>
    /// <param name="accelerator">The accelerator.</param>
    /// <param name="tile">The tile loop for <typeparamref name="TWeights"/> and <typeparamref name="TEpilogue"/> (<see cref="KernelCatalog"/>).</param>
    /// <param name="gemv">The decode GEMV for <typeparamref name="TWeights"/> and <typeparamref name="TEpilogue"/>.</param>
    /// <param name="reduce">The split-K reduce for <typeparamref name="TEpilogue"/>.</param>
    public ProjectionLauncher(
        Accelerator accelerator,
        Action<ProjectionArgs, TWeights, TEpilogue> tile,
        Action<ProjectionArgs, TWeights, TEpilogue> gemv,
        Action<ProjectionArgs, TEpilogue> reduce)
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
    /// Enqueues the projection as <paramref name="launch"/> plans it: the tile loop or the GEMV, then the reduce when the tile loop is split (the GEMV never is). The
    /// operands' tiling is the entry's (whatever <paramref name="operands"/> holds).
    /// </summary>
    /// <param name="stream">The stream.</param>
    /// <param name="launch">The plan's entry.</param>
    /// <param name="operands">x and the shapes (the partial buffer at least <see cref="ProjectionLaunch.PartialFloats"/> when split).</param>
    /// <param name="weight">The row-major weight W[M, K] in its storage type.</param>
    /// <param name="epilogue">Bias and outputs.</param>
    public void Launch(AcceleratorStream stream, ProjectionLaunch launch, ProjectionArgs operands, TWeights weight, TEpilogue epilogue)
    {
        operands.Tiling = launch.Tiling;
        (launch.Tiling.Gemv != 0 ? gemv : tile)(stream, launch.Config, operands, weight, epilogue);
        if (launch.IsSplit)
        {
            reduce(stream, launch.ReduceConfig, operands, epilogue);
        }
    }
}
