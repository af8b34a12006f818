using Soma.Internal;

namespace Soma;

/// <summary>
/// Device state for a fixed number of sessions of one layer, allocated up front: opening a session takes a free
/// slot and never allocates device memory; disposing a session returns its slot.
/// </summary>
public sealed class SomaSessionPool : IDisposable
{
    private readonly List<SomaSession> open = new();
    private bool disposed;

    internal SomaSessionPool(SomaLayer layer, StateStore store)
    {
        Layer = layer;
        Store = store;
    }

    /// <summary>The layer whose sessions this pool holds.</summary>
    public SomaLayer Layer { get; }

    /// <summary>How many sessions the pool can hold at once.</summary>
    public int Capacity => Store.Slots;

    /// <summary>How many more sessions can be opened now.</summary>
    public int Available => Store.FreeSlots;

    internal StateStore Store { get; }

    /// <summary>
    /// Opens a fresh session (position 0, field 0) in a free slot. Throws <see cref="InvalidOperationException"/>
    /// when every slot is in use.
    /// </summary>
    public SomaSession OpenSession()
    {
        lock (open)
        {
            Layer.ThrowIfDisposed();
            ObjectDisposedException.ThrowIf(disposed, this);
            int slot = Store.Rent();
            var session = new SomaSession(Layer, this, slot);
            try
            {
                session.ClearSlot();
            }
            catch
            {
                Store.Return(slot);
                throw;
            }

            open.Add(session);
            return session;
        }
    }

    /// <summary>Disposes every session still open and frees the pool's device memory.</summary>
    public void Dispose()
    {
        lock (open)
        {
            if (disposed)
            {
                return;
            }

            disposed = true;
            foreach (var s in open.ToArray())
            {
                s.Dispose();
            }

            open.Clear();
            Store.Dispose();
        }

        Layer.Forget(this);
    }

    internal void Close(SomaSession session)
    {
        lock (open)
        {
            if (open.Remove(session))
            {
                Store.Return(session.Slot);
            }
        }
    }
}
