using ILGPU;
using ILGPU.Runtime;

namespace Soma.Internal;

/// <summary>A device copy of one slot's ring and field, taken before a multi-pass call and put back if it fails.</summary>
internal sealed class SlotBackup : IDisposable
{
    private readonly StateStore store;
    private readonly int slot;
    private readonly DeviceBuffer<float> ringK;
    private readonly DeviceBuffer<float> ringV;
    private readonly DeviceBuffer<double> field;

    private SlotBackup(SomaEngine engine, StateStore store, int slot)
    {
        this.store = store;
        this.slot = slot;
        ringK = engine.Allocate<float>(store.RingElements);
        try
        {
            ringV = engine.Allocate<float>(store.RingElements);
            field = engine.Allocate<double>(store.Channels);
        }
        catch
        {
            ringK.Dispose();
            ringV?.Dispose();
            throw;
        }
    }

    public static SlotBackup Take(SomaEngine engine, StateStore store, int slot)
    {
        var backup = new SlotBackup(engine, store, slot);
        var stream = engine.Accelerator.DefaultStream;
        backup.RingOf(store.RingK).CopyTo(stream, backup.ringK.View);
        backup.RingOf(store.RingV).CopyTo(stream, backup.ringV.View);
        backup.FieldOf().CopyTo(stream, backup.field.View);
        stream.Synchronize();
        return backup;
    }

    public void Restore(AcceleratorStream stream)
    {
        ringK.View.CopyTo(stream, RingOf(store.RingK));
        ringV.View.CopyTo(stream, RingOf(store.RingV));
        field.View.CopyTo(stream, FieldOf());
        stream.Synchronize();
    }

    public void Dispose()
    {
        ringK.Dispose();
        ringV.Dispose();
        field.Dispose();
    }

    private ArrayView<float> RingOf(DeviceBuffer<float> ring) => ring.View.SubView(slot * store.RingElements, store.RingElements);

    private ArrayView<double> FieldOf() => store.Field.View.SubView((long)slot * store.Channels, store.Channels);
}
