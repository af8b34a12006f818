namespace Soma.Internal;

/// <summary>
/// What one planned pass costs on the device, computed once from its <see cref="LaunchPlan"/> (cached with it): the
/// launches by kernel (indices of <see cref="KernelCatalog.All"/>), and the device bytes they must read and write and
/// their FLOPs. The one place of these formulas; <see cref="SomaCallProfile"/> sums them over a call.
/// </summary>
/// <remarks>
/// Elements are fp32 (4 bytes) except the projection weights (w = 4 or 2 bytes, <see cref="SomaLayerOptions.WeightStorage"/>),
/// rotated keys and values in the chunk and the ring (r = 4 or 2 bytes, <see cref="SomaLayerOptions.RingStorage"/>), the
/// field and the RoPE inputs (fp64, 8 bytes) and positions (8 bytes).
/// Bytes are the compulsory traffic: every element a launch must read once and write once (caches and re-reads of
/// tiles not counted), except the projection weights, which the tile loop reads once per block of rows
/// (b = ceil(n / (8·row tiles)), <see cref="Kernels.ProjectionTiling.WeightReads"/>: once for the GEMV and for a batched
/// decode pass whose block holds all its rows). FLOPs count a multiply-add as 2 and only the dot products: projections 2·n·in·out, attention
/// 4·n·H·dh·K (scores and values over at most K = <see cref="PlanKey.MaxKeys"/> ring keys a row, the plan's bound),
/// split-K reduces and the combine their additions, the field's step 3 a channel and row; the RoPE table and commit 0.
/// With n rows, D model width, H and Hkv heads, dh head width, M = (H + 2·Hkv)·dh, Q = H·dh, C = Hkv·dh, G segments,
/// R commit rows a segment, s the attention splits and k the split-K slices of a projection:
/// <list type="bullet">
/// <item>rope-table (a prefill pass with RoPE): reads 8n + 8·dh/2, writes 4·n·dh (cos and sin).</item>
/// <item>qkv (or qkv-gemv): reads 4·n·D + b·w·D·M + 4·M (+ e unless split), writes 4·n·Q + f + r·2·n·C (q; raw k or
/// the field; rotated k and v), or 4·k·n·M partial sums when split; the reduce reads those (+ bias and e) and writes as
/// qkv does. e, the inputs of the epilogue (read by the launch that runs it): 4·n·dh cos/sin from a prefill pass's
/// table, or 8n + 8·dh/2 positions and inverse frequencies in a decode pass with RoPE, and in a decode pass with the
/// field 8·G·C + 4·Hkv (field, gamma). f: 4·n·C raw k for the scan, or in a decode pass with the field 4·n·C + 8·G·C
/// (the field before and after the row, whose 3 FLOPs a channel and row count with the launch that runs the epilogue).</item>
/// <item>field-scan (a prefill pass with the field): reads 4·n·C + 8·G·C + 4·Hkv, writes 4·n·C + 8·G·C.</item>
/// <item>attention: reads 4·n·Q + r·(2·n·C + 2·G·K·C) + 4·(n·C + H), writes 4·n·Q, or 4·n·H·s·(dh + 2) partial states
/// when split; the combine reads those and writes 4·n·Q.</item>
/// <item>attention-decode (the split-KV decode kernel, one launch): reads as attention; writes 4·n·Q, and when split
/// also the partial states, which its last groups read back (+ 4·n·H·s·(dh + 2) read), and 4·2·n·Hkv counter bytes
/// (an atomic add and a reset per (row, kv-head), counted as 4 read and 8 written).</item>
/// <item>linear (or linear-gemv): reads 4·n·Q + b·w·Q·D + 4·D, writes 4·n·D or 4·k·n·D; the reduce reads those (+ bias), writes 4·n·D.</item>
/// <item>commit: reads and writes r·2·G·R·C ring rows (+ 8·G·C field).</item>
/// </list>
/// </remarks>
internal sealed class PassCost
{
    private const long F = sizeof(float);
    private const long Dbl = sizeof(double);

    private PassCost(int kernels)
    {
        Launches = new int[kernels];
        KernelBytesRead = new long[kernels];
        KernelBytesWritten = new long[kernels];
        KernelFlops = new long[kernels];
    }

    /// <summary>Launches of the pass (without its commit) per kernel, indexed like <see cref="KernelCatalog.All"/>.</summary>
    public int[] Launches { get; }

    /// <summary>Device bytes each kernel's launches in the pass must read, indexed like <see cref="Launches"/> (the commit's are <see cref="CommitBytes"/>).</summary>
    public long[] KernelBytesRead { get; }

    /// <summary>Device bytes each kernel's launches in the pass must write, indexed like <see cref="Launches"/>.</summary>
    public long[] KernelBytesWritten { get; }

    /// <summary>FLOPs of each kernel's launches in the pass, indexed like <see cref="Launches"/>.</summary>
    public long[] KernelFlops { get; }

    /// <summary>Device bytes the pass's launches (without the commit) must read.</summary>
    public long BytesRead { get; private set; }

    /// <summary>Device bytes the pass's launches (without the commit) must write.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>FLOPs of the pass's launches.</summary>
    public long Flops { get; private set; }

    /// <summary>Device bytes the commit launch reads (and as many it writes): the new rows and field, and the elements they overwrite, read and saved.</summary>
    public long CommitBytes { get; private set; }

    /// <summary>Index of the commit kernel in <see cref="KernelCatalog.All"/>.</summary>
    public static int CommitKernel { get; } = Index("commit");

    /// <summary>The cost of <paramref name="plan"/> for a layer of options <paramref name="o"/>.</summary>
    /// <param name="plan">The pass's plan.</param>
    /// <param name="o">The layer's options.</param>
    public static PassCost Of(LaunchPlan plan, SomaLayerOptions o)
    {
        var key = plan.Key;
        long n = key.Tokens, d = o.ModelDim, h = o.Heads, hkv = o.KvHeads, dh = o.HeadDim, g = key.Segments;
        long m = (h + 2 * hkv) * dh, q = h * dh, c = hkv * dh, keys = key.MaxKeys;
        bool fieldStep = plan.Field && !plan.FieldScan;
        long angles = plan.RopeTable ? F * n * dh : plan.Rope ? Dbl * n + Dbl * (dh / 2) : 0;
        long epilogue = angles + (fieldStep ? Dbl * g * c + F * hkv : 0);
        long fieldFlops = fieldStep ? 3 * n * c : 0;
        long w = StorageTypes.Bytes(o.WeightStorage ?? SomaStorageType.Float32), r = StorageTypes.Bytes(o.RingStorage);
        var cost = new PassCost(KernelCatalog.All.Count);
        if (plan.RopeTable)
        {
            cost.Add("rope-table", Dbl * n + Dbl * (dh / 2), F * n * dh, 0);
        }

        long qkvSlices = plan.QkvTiling.KSlices;
        long qkvOut = F * n * (q + c) + (fieldStep ? Dbl * g * c : 0) + r * 2 * n * c;
        bool split = plan.QkvPartial > 0;
        cost.Add(
            plan.Qkv.Tiling.Gemv != 0 ? "qkv-gemv" : "qkv", F * (n * d + m) + w * d * m * plan.QkvTiling.WeightReads(n) + (split ? 0 : epilogue), split ? F * plan.QkvPartial : qkvOut,
            2 * n * d * m + (split ? 0 : fieldFlops));
        if (split)
        {
            cost.Add("qkv-reduce", F * plan.QkvPartial + F * m + epilogue, qkvOut, qkvSlices * n * m + fieldFlops);
        }

        if (plan.FieldScan)
        {
            cost.Add("field-scan", F * n * c + Dbl * g * c + F * hkv, F * n * c + Dbl * g * c, 3 * n * c);
        }

        long partials = F * plan.AttentionPartials * (dh + 2);
        long attentionRead = F * (n * q + (plan.Field ? n * c + h : 0)) + r * (2 * n * c + 2 * g * keys * c);
        if (plan.Attention.SplitKv)
        {
            long counters = partials > 0 ? F * n * hkv : 0;
            cost.Add("attention-decode", attentionRead + partials + counters, F * n * q + partials + 2 * counters, 4 * n * h * dh * keys + 2 * plan.AttentionPartials * dh);
        }
        else
        {
            cost.Add("attention", attentionRead, partials > 0 ? partials : F * n * q, 4 * n * h * dh * keys);
        }

        if (plan.Attention.HasCombine)
        {
            cost.Add("attention-combine", partials, F * n * q, 2 * plan.AttentionPartials * dh);
        }

        long outSlices = plan.OutTiling.KSlices;
        cost.Add(plan.Output.Tiling.Gemv != 0 ? "linear-gemv" : "linear", F * (n * q + d) + w * q * d * plan.OutTiling.WeightReads(n), plan.OutPartial > 0 ? F * plan.OutPartial : F * n * d, 2 * n * q * d);
        if (plan.OutPartial > 0)
        {
            cost.Add("linear-reduce", F * plan.OutPartial + F * d, F * n * d, outSlices * n * d);
        }

        // Read: the rows and field, and the elements they overwrite; written: those, and the overwritten ones saved.
        cost.CommitBytes = 2 * (r * 2 * g * key.CommitRows * c + (plan.Field ? Dbl * g * c : 0));
        return cost;
    }

    /// <summary>The index of the kernel named <paramref name="name"/> in <see cref="KernelCatalog.All"/>.</summary>
    private static int Index(string name)
    {
        for (int i = 0; i < KernelCatalog.All.Count; i++)
        {
            if (KernelCatalog.All[i].Name == name)
            {
                return i;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(name), name, "No such kernel in KernelCatalog.All.");
    }

    /// <summary>Counts one launch of <paramref name="kernel"/> with its bytes and FLOPs.</summary>
    private void Add(string kernel, long read, long written, long flops)
    {
        int i = Index(kernel);
        Launches[i]++;
        (KernelBytesRead[i], KernelBytesWritten[i], KernelFlops[i]) = (KernelBytesRead[i] + read, KernelBytesWritten[i] + written, KernelFlops[i] + flops);
        BytesRead += read;
        BytesWritten += written;
        Flops += flops;
    }
}
