using ILGPU;
using ILGPU.Algorithms;

namespace Soma.Kernels;

/// <summary>
/// The fused QKV epilogue: bias, the split into q, k and v heads, and RoPE on q and k. Fused columns are q heads, then
/// k heads, then v heads; with RoPE the thread of column j &lt; dh/2 of a q or k head also computes its partner
/// j + dh/2 and rotates the pair: (x1, x2) -&gt; (x1 cos - x2 sin, x2 cos + x1 sin), its angle read from a prefill
/// pass's table or, in a decode pass, computed here from the row's position (<see cref="RopeAngles.Reduced"/>, the
/// table's own math). k is written rotated (what the ring stores) and raw (what the field scan integrates); in a
/// decode pass (one row per segment) the thread of raw k channel c takes the field's step itself
/// (<see cref="FieldScan.OneRow"/>): it reads the session's state and writes the state before the row and after it
/// into scratch, so a decode pass launches no field scan (the state itself is written only by the commit). Its
/// projection's output width is M = (H + 2 Hkv) dh (<see cref="Columns"/>).
/// </summary>
/// <typeparam name="TRing">How the ring stores keys and values: rotated k and v are written in that type (rounded
/// once, here), so attention reads the chunk's rows and the ring's alike and the commit copies them unchanged.</typeparam>
internal struct BiasRopeEpilogue<TRing> : IProjectionEpilogue
    where TRing : struct, IElementView
{
    /// <summary>Fused bias b[M] (zeros when the layer has none).</summary>
    public ArrayView<float> Bias;
    /// <summary>RoPE cosines cos[n, dh/2] of a prefill pass's table (unused without RoPE or with <see cref="Angles"/>).</summary>
    public ArrayView<float> Cos;
    /// <summary>RoPE sines sin[n, dh/2] of the table (unused without RoPE or with <see cref="Angles"/>).</summary>
    public ArrayView<float> Sin;
    /// <summary>Absolute position of each row, [n] (read with <see cref="Angles"/>).</summary>
    public ArrayView<long> Positions;
    /// <summary>RoPE inverse frequencies f_j, [dh/2], double (read with <see cref="Angles"/>).</summary>
    public ArrayView<double> InverseFrequencies;
    /// <summary>Segment of each row, [n] (read with <see cref="FieldStep"/>).</summary>
    public ArrayView<int> RowSegment;
    /// <summary>State slot of each segment (read with <see cref="FieldStep"/>).</summary>
    public ArrayView<int> Slot;
    /// <summary>The sessions' field per slot, [slots, Hkv * dh], fp64 (read only, with <see cref="FieldStep"/>).</summary>
    public ArrayView<double> Field;
    /// <summary>Decay per kv-head, gamma[Hkv] (read with <see cref="FieldStep"/>).</summary>
    public ArrayView<float> Gamma;
    /// <summary>Output with <see cref="FieldStep"/>: the field before each row, rounded to fp32, [n, Hkv * dh].</summary>
    public ArrayView<float> FieldPrev;
    /// <summary>Output with <see cref="FieldStep"/>: the field after each segment's row, fp64, [segments, Hkv * dh].</summary>
    public ArrayView<double> FieldFinal;
    /// <summary>Output q[n, H, dh], rotated.</summary>
    public ArrayView<float> Q;
    /// <summary>Output k[n, Hkv, dh], rotated, in the ring's type.</summary>
    public TRing KRotated;
    /// <summary>Output k[n, Hkv, dh] before rotation.</summary>
    public ArrayView<float> KRaw;
    /// <summary>Output v[n, Hkv, dh], in the ring's type.</summary>
    public TRing V;
    /// <summary>Query heads H.</summary>
    public int Heads;
    /// <summary>Key/value heads Hkv.</summary>
    public int KvHeads;
    /// <summary>Head dimension dh.</summary>
    public int HeadDim;
    /// <summary>1 when RoPE rotates q and k, else 0.</summary>
    public int Rope;
    /// <summary>1: compute each rotated pair's angle from <see cref="Positions"/> (a decode pass); 0: read the table.</summary>
    public int Angles;
    /// <summary>1: take the field's step for each raw k channel (a decode pass: one row per segment), instead of writing <see cref="KRaw"/> for the scan.</summary>
    public int FieldStep;

    /// <summary>Fused output width M = (H + 2 Hkv) dh.</summary>
    public readonly int Columns => (Heads + 2 * KvHeads) * HeadDim;

    /// <inheritdoc/>
    public readonly ProjectionColumn Column(int col, int outer)
    {
        int section = Section(col, out int within);
        bool rotated = Rope != 0 && section != 2;
        int half = HeadDim / 2;

        // With RoPE, the thread of column j < dh/2 also computes its partner j + dh/2; partners stay idle.
        return new ProjectionColumn
        {
            Col = col,
            Partner = rotated ? col + half : col,
            Active = col < outer && (!rotated || within % HeadDim < half),
            Paired = rotated,
        };
    }

    /// <inheritdoc/>
    public readonly void Write(ProjectionColumn column, int row, float sum, float partnerSum)
    {
        int section = Section(column.Col, out int within);
        int half = HeadDim / 2;
        float x1 = sum + Bias[column.Col];
        float x2 = column.Paired ? partnerSum + Bias[column.Partner] : 0f;
        float y1 = x1;
        float y2 = x2;
        if (column.Paired)
        {
            int j = within % HeadDim;
            float cos;
            float sin;
            if (Angles != 0)
            {
                float angle = RopeAngles.Reduced(Positions[row], InverseFrequencies[j]);
                cos = XMath.Cos(angle);
                sin = XMath.Sin(angle);
            }
            else
            {
                cos = Cos[row * half + j];
                sin = Sin[row * half + j];
            }

            y1 = x1 * cos - x2 * sin;
            y2 = x2 * cos + x1 * sin;
        }

        if (section == 0)
        {
            int o = row * Heads * HeadDim + within;
            Q[o] = y1;
            if (column.Paired)
            {
                Q[o + half] = y2;
            }
        }
        else if (section == 1)
        {
            int o = row * KvHeads * HeadDim + within;
            Raw(row, within, x1);
            KRotated.Store(o, y1);
            if (column.Paired)
            {
                Raw(row, within + half, x2);
                KRotated.Store(o + half, y2);
            }
        }
        else
        {
            V.Store(row * KvHeads * HeadDim + within, y1);
        }
    }

    /// <summary>
    /// Raw k channel <paramref name="c"/> of row <paramref name="row"/>: for the field scan, or (<see cref="FieldStep"/>)
    /// the field's step from the row's session state: the state before the row (fp32, what attention adds) and after it.
    /// </summary>
    private readonly void Raw(int row, int c, float k)
    {
        int channels = KvHeads * HeadDim;
        if (FieldStep == 0)
        {
            KRaw[row * channels + c] = k;
            return;
        }

        int s = RowSegment[row];
        double gamma = Gamma[c / HeadDim];
        double state = Field[Slot[s] * channels + c];
        FieldPrev[row * channels + c] = (float)state;
        FieldFinal[s * channels + c] = FieldScan.OneRow(gamma, 1.0 - gamma, state, k);
    }

    /// <summary>Section of fused column <paramref name="col"/> (0 q, 1 k, 2 v); <paramref name="within"/> its offset in that section.</summary>
    private readonly int Section(int col, out int within)
    {
        int qCols = Heads * HeadDim;
        int kCols = KvHeads * HeadDim;
        int section = col < qCols ? 0 : col < qCols + kCols ? 1 : 2;
        within = section == 0 ? col : section == 1 ? col - qCols : col - qCols - kCols;
        return section;
    }
}
