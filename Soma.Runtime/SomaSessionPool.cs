using Soma.Internal;

namespace Soma;

/// <summary>
/// Device state for a fixed number of sessions of one layer, allocated up front: opening a session takes a free
/// slot and never allocates device memory; disposing a session returns its slot.
/// </summary>
/// <remarks>
/// A slot comes back only when its session is disposed and no call holds it any more (see
/// <see cref="SomaSession.Dispose"/>), and <see cref="OpenSession"/> clears a slot before handing it out, so a new
/// session never sees another sequence's state. Disposing the pool disposes its sessions and frees its device memory
/// when the last call on any of them has ended (at once when none is running).
/// </remarks>
public sealed class SomaSessionPool : IDisposable
{
    private readonly List<SomaSession> open = new();
    private bool disposed;
    private bool freed;

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

    /// <summary>
    /// Disposes every session still open and frees the pool's device memory: at once when no call is running on
    /// any of its sessions, else when the last such call ends. Never throws and never waits.
    /// </summary>
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
                s.Dispose(); // an idle session closes now (Close below); a busy one when its call releases it
            }

            FreeWhenEmpty();
        }

        Layer.Forget(this);
    }

    /// <summary>Takes back a disposed session's slot once no call holds it; the last one of a disposed pool frees the memory.</summary>
    internal void Close(SomaSession session)
    {
        lock (open)
        {
            if (open.Remove(session) && !disposed)
            {
                Store.Return(session.Slot);
            }

            FreeWhenEmpty();
        }
    }

    /// <summary>Frees the store once the pool is disposed and no session of it is still held by a call.</summary>
    private void FreeWhenEmpty()
    {
        if (disposed && open.Count == 0 && !freed)
        {
            freed = true;
            Store.Dispose();
        }
    }
}
