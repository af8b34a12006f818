using ILGPU;

namespace Soma.Kernels;

/// <summary>Inputs and outputs of one field scan launch (<see cref="FieldScan"/>).</summary>
internal struct FieldScanArgs
{
    /// <summary>The launch's segments (slot, rows, first position of each sequence).</summary>
    public SegmentArgs Segments;
    /// <summary>Field state per slot, [slots, Hkv * dh], fp64 (read only: the commit writes it).</summary>
    public ArrayView<double> Field;
    /// <summary>Decay per kv-head, gamma[Hkv].</summary>
    public ArrayView<float> Gamma;
    /// <summary>Unrotated keys k[n, Hkv * dh].</summary>
    public ArrayView<float> KRaw;
    /// <summary>Output: the state before each token, rounded to fp32, [n, Hkv * dh].</summary>
    public ArrayView<float> Prev;
    /// <summary>Output: the state after each segment, fp64, [segments, Hkv * dh].</summary>
    public ArrayView<double> Final;
    /// <summary>Channels Hkv * dh.</summary>
    public int Channels;
    /// <summary>Head dimension dh (channels per gamma).</summary>
    public int HeadDim;
}
