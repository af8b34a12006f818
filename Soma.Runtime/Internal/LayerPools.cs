namespace Soma.Internal;

/// <summary>The open pools of a layer, which the layer disposes with itself. Thread-safe.</summary>
internal sealed class LayerPools
{
    private readonly List<SomaSessionPool> pools = new();

    /// <summary>Records a new pool.</summary>
    /// <param name="pool">The pool.</param>
    public void Add(SomaSessionPool pool)
    {
        lock (pools)
        {
            pools.Add(pool);
        }
    }

    /// <summary>Drops a disposed pool.</summary>
    /// <param name="pool">The pool.</param>
    public void Remove(SomaSessionPool pool)
    {
        lock (pools)
        {
            pools.Remove(pool);
        }
    }

    /// <summary>Every open pool, forgotten here (the layer disposes them).</summary>
    public SomaSessionPool[] TakeAll()
    {
        lock (pools)
        {
            var open = pools.ToArray();
            pools.Clear();
            return open;
        }
    }
}
