using ILGPU;
using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// Device state of a fixed number of session slots: ring K and V [slots, W, Hkv, dh] in the layer's ring storage type
/// (raw 16-bit units: two per fp32 element, one per fp16 or bf16 element) and field S [slots, Hkv, dh] (fp64).
/// Allocated once; slots are handed out and returned without touching device allocation.
/// </summary>
internal sealed class StateStore : IDisposable
{
    private readonly Stack<int> free;

    public StateStore(SomaEngine engine, SomaLayerOptions options, int window, int slots)
    {
        Slots = slots;
        Channels = options.KvHeads * options.HeadDim;
        RingElements = (long)window * Channels;
        RingType = options.RingStorage;
        Units = StorageTypes.Units(RingType);
        if (RingElements * slots > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(
                nameof(slots), slots, $"{slots} slots of W*Hkv*dh = {RingElements} exceed 2^31 ring elements.");
        }

        free = new Stack<int>(Enumerable.Range(0, slots).Reverse());
        try
        {
            RingK = engine.Allocate<ushort>(RingElements * Units * slots);
            RingV = engine.Allocate<ushort>(RingElements * Units * slots);
            Field = engine.Allocate<double>((long)Channels * slots);
            RingK.View.MemSetToZero();
            RingV.View.MemSetToZero();
            Field.View.MemSetToZero();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int Slots { get; }

    public int Channels { get; }

    public long RingElements { get; }

    /// <summary>How the ring stores keys and values.</summary>
    public SomaStorageType RingType { get; }

    /// <summary>16-bit units per ring element: 2 (fp32) or 1.</summary>
    public int Units { get; }

    /// <summary>Ring keys [slots, W, Hkv, dh] as raw 16-bit units of <see cref="RingType"/>.</summary>
    public DeviceBuffer<ushort> RingK { get; } = null!;

    /// <summary>Ring values, like <see cref="RingK"/>.</summary>
    public DeviceBuffer<ushort> RingV { get; } = null!;

    /// <summary>Units of slot <paramref name="slot"/>'s ring rows [start, start + rows) in <paramref name="ring"/>.</summary>
    public ArrayView<ushort> Rows(DeviceBuffer<ushort> ring, int slot, long start, long rows) =>
        ring.View.SubView((slot * RingElements + start * Channels) * Units, rows * Channels * Units);

    /// <summary>Field S [slots, Hkv, dh] in fp64 (the scan accumulates it in fp64).</summary>
    public DeviceBuffer<double> Field { get; } = null!;

    public int FreeSlots
    {
        get
        {
            lock (free)
            {
                return free.Count;
            }
        }
    }

    public int Rent()
    {
        lock (free)
        {
            if (free.Count == 0)
            {
                throw new InvalidOperationException($"All {Slots} session slots of this pool are in use; dispose a session first.");
            }

            return free.Pop();
        }
    }

    public void Return(int slot)
    {
        lock (free)
        {
            free.Push(slot);
        }
    }

    public void Dispose()
    {
        RingK?.Dispose();
        RingV?.Dispose();
        Field?.Dispose();
    }
}
