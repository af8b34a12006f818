using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// Scratch of a whole-model call of up to <see cref="Rows"/> token rows and <see cref="Picked"/> rows of logits: on the
/// device the residual stream h, the attention rows, the normed rows, the MLP's activation, the token ids and the
/// result rows; on the host the page-locked ids and results, so the call's copies are enqueued without waiting. Not
/// session state. Grown (replaced) when a call needs more; owned by one <see cref="DecoderLauncher"/>.
/// </summary>
internal sealed class DecoderScratch : IDisposable
{
    private readonly OwnedBuffers owned = new();

    /// <summary>Scratch for a model of width <paramref name="d"/>, MLP width <paramref name="inter"/> and vocabulary <paramref name="v"/>.</summary>
    public DecoderScratch(SomaEngine engine, int d, int inter, int v, int rows, int picked)
    {
        Rows = rows;
        Picked = picked;
        try
        {
            H = Own(engine.Allocate<float>((long)rows * d));
            A = Own(engine.Allocate<float>((long)rows * d));
            X = Own(engine.Allocate<float>((long)rows * d));
            Act = Own(engine.Allocate<float>((long)rows * inter));
            Ids = Own(engine.Allocate<int>(rows + picked));
            HostIds = Own(engine.Accelerator.AllocatePageLocked1D<int>(rows + picked, uninitialized: false));
            PickedRows = Own(engine.Allocate<float>((long)picked * d));
            Logits = Own(engine.Allocate<float>((long)picked * v));
            Best = Own(engine.Allocate<int>(picked));
            HostLogits = Own(engine.Accelerator.AllocatePageLocked1D<float>((long)picked * v, uninitialized: false));
            HostBest = Own(engine.Accelerator.AllocatePageLocked1D<int>(picked, uninitialized: false));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Token rows the scratch holds.</summary>
    public int Rows { get; }

    /// <summary>Rows of logits the scratch holds.</summary>
    public int Picked { get; }

    /// <summary>Residual stream h [rows, D].</summary>
    public DeviceBuffer<float> H { get; } = null!;

    /// <summary>Attention output rows [rows, D].</summary>
    public DeviceBuffer<float> A { get; } = null!;

    /// <summary>Normed rows [rows, D] (the next projection's input).</summary>
    public DeviceBuffer<float> X { get; } = null!;

    /// <summary>silu(gate) * up [rows, I].</summary>
    public DeviceBuffer<float> Act { get; } = null!;

    /// <summary>The call's token ids [rows], then which rows' logits it wants [picked]: one upload.</summary>
    public DeviceBuffer<int> Ids { get; } = null!;

    /// <summary>Page-locked host side of <see cref="Ids"/>.</summary>
    public PageLockedArray1D<int> HostIds { get; } = null!;

    /// <summary>Page-locked host copy of <see cref="Logits"/>, downloaded at the end of the call.</summary>
    public PageLockedArray1D<float> HostLogits { get; } = null!;

    /// <summary>Page-locked host copy of <see cref="Best"/>, downloaded at the end of a greedy call.</summary>
    public PageLockedArray1D<int> HostBest { get; } = null!;

    /// <summary>The final-normed rows whose logits are wanted [picked, D].</summary>
    public DeviceBuffer<float> PickedRows { get; } = null!;

    /// <summary>Logits [picked, V].</summary>
    public DeviceBuffer<float> Logits { get; } = null!;

    /// <summary>Argmax of each row of <see cref="Logits"/> [picked].</summary>
    public DeviceBuffer<int> Best { get; } = null!;

    /// <summary>Split-K partial sums of a projection, grown on demand (GPUs at decode); null until needed.</summary>
    public DeviceBuffer<float>? Partial { get; set; }

    /// <summary>Frees every buffer. Never throws; a second call does nothing.</summary>
    public void Dispose()
    {
        Partial?.Dispose();
        Partial = null;
        owned.Dispose();
    }

    private T Own<T>(T buffer)
        where T : IDisposable => owned.Own(buffer);
}
