namespace Soma.Internal;

/// <summary>The device buffers one object allocated, freed together: the one owner behind that object's properties.</summary>
internal sealed class OwnedBuffers : IDisposable
{
    private readonly List<IDisposable> owned = new();

    /// <summary>Takes ownership of <paramref name="buffer"/> and returns it.</summary>
    public T Own<T>(T buffer)
        where T : IDisposable
    {
        owned.Add(buffer);
        return buffer;
    }

    /// <summary>Frees every buffer, last first. Never throws; a second call does nothing.</summary>
    public void Dispose()
    {
        for (int i = owned.Count - 1; i >= 0; i--)
        {
            owned[i].Dispose();
        }

        owned.Clear();
    }
}
