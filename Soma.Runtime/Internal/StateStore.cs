using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>
/// Device state of a fixed number of session slots: ring K and V [slots, W, Hkv, dh] and field S [slots, Hkv, dh] (fp64).
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
        if (RingElements * slots > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(
                nameof(slots), slots, $"{slots} slots of W*Hkv*dh = {RingElements} exceed 2^31 ring elements.");
        }

        free = new Stack<int>(Enumerable.Range(0, slots).Reverse());
        try
        {
            RingK = engine.Allocate<float>(RingElements * slots);
            RingV = engine.Allocate<float>(RingElements * slots);
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

    public DeviceBuffer<float> RingK { get; } = null!;

    public DeviceBuffer<float> RingV { get; } = null!;

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
