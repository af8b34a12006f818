namespace Soma.Kernels;

/// <summary>One output column of a projection as its epilogue sees it (<see cref="IProjectionEpilogue.Column"/>).</summary>
internal struct ProjectionColumn
{
    /// <summary>The output column.</summary>
    public int Col;
    /// <summary>The column computed with it (its RoPE partner j + dh/2) when <see cref="Paired"/>, else <see cref="Col"/>.</summary>
    public int Partner;
    /// <summary>Whether the thread owning this column computes it (false past the width, or for a RoPE partner).</summary>
    public bool Active;
    /// <summary>Whether the thread also computes <see cref="Partner"/>.</summary>
    public bool Paired;

    /// <summary>A column computed alone: active when inside the output width.</summary>
    /// <param name="col">The column.</param>
    /// <param name="outer">The output width.</param>
    public static ProjectionColumn Single(int col, int outer) =>
        new() { Col = col, Partner = col, Active = col < outer, Paired = false };
}
