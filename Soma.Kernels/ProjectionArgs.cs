using ILGPU;

namespace Soma.Kernels;

/// <summary>
/// The operands of a projection (<see cref="Projection"/>, <see cref="SplitKReduce"/>) but its weights (a separate
/// kernel argument, typed by their storage): sum[t, c] = x[t] . W[c, :] (W row-major [M, K]),
/// which its epilogue (<see cref="BiasEpilogue"/>, <see cref="BiasRopeEpilogue{TRing}"/>) turns into outputs.
/// </summary>
internal struct ProjectionArgs
{
    /// <summary>Input rows x[n, K].</summary>
    public ArrayView<float> X;
    /// <summary>Rows n.</summary>
    public int Rows;
    /// <summary>Input width K.</summary>
    public int Inner;
    /// <summary>Output width M.</summary>
    public int Outer;
    /// <summary>Tiling chosen on the host (set from the plan's entry by the launcher).</summary>
    public ProjectionTiling Tiling;
    /// <summary>Split-K partial sums [KSlices, n, M] of the tile loop (used when <see cref="ProjectionTiling.KSlices"/> &gt; 1; never by the GEMV).</summary>
    public ArrayView<float> Partial;
}
