using ILGPU;

namespace Soma.Kernels;

/// <summary>Inputs and outputs of one RoPE table launch (<see cref="RopeAngles"/>).</summary>
internal struct RopeTableArgs
{
    /// <summary>Absolute position of each token, [n].</summary>
    public ArrayView<long> Positions;
    /// <summary>Inverse frequencies f_j, [dh/2], in double.</summary>
    public ArrayView<double> InverseFrequencies;
    /// <summary>Output cos[n, dh/2].</summary>
    public ArrayView<float> Cos;
    /// <summary>Output sin[n, dh/2].</summary>
    public ArrayView<float> Sin;
    /// <summary>Token count n.</summary>
    public int Tokens;
    /// <summary>Angles per token, dh/2.</summary>
    public int Half;
}
