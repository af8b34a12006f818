namespace Soma.Kernels;

/// <summary>
/// What a projection does with a finished dot product: which columns a thread computes (a rotated column brings its
/// RoPE partner) and how the sums become outputs. Implemented by structs and called through a struct type parameter
/// (<see cref="Projection.TileKernel{TWeights, TEpilogue}"/>, <see cref="SplitKReduce.Kernel{TEpilogue}"/>), so ILGPU
/// compiles one specialised kernel per epilogue with the calls inlined: no virtual dispatch on the device. The
/// epilogue is also the projection's output arguments (views and shapes).
/// </summary>
internal interface IProjectionEpilogue
{
    /// <summary>The role of output column <paramref name="col"/> of <paramref name="outer"/>.</summary>
    /// <param name="col">The output column.</param>
    /// <param name="outer">The output width M.</param>
    ProjectionColumn Column(int col, int outer);

    /// <summary>
    /// Writes row <paramref name="row"/> of <paramref name="column"/> from its dot product <paramref name="sum"/> (and its
    /// partner's, <paramref name="partnerSum"/>, when paired), bias not yet added.
    /// </summary>
    /// <param name="column">The column (<see cref="Column"/>).</param>
    /// <param name="row">The token row.</param>
    /// <param name="sum">x[row] . W[column, :].</param>
    /// <param name="partnerSum">x[row] . W[partner, :] (0 when not paired).</param>
    void Write(ProjectionColumn column, int row, float sum, float partnerSum);
}
