namespace Soma;

/// <summary>State for a fixed number of conversations of a <see cref="SomaCausalLM"/> in every layer, allocated up front.</summary>
public sealed class SomaCausalLMPool : IDisposable
{
    private readonly SomaModelPool pool;

    internal SomaCausalLMPool(SomaCausalLM model, SomaModelPool pool)
    {
        Model = model;
        this.pool = pool;
    }

    /// <summary>The model.</summary>
    public SomaCausalLM Model { get; }

    /// <summary>Conversations the pool holds at once.</summary>
    public int Capacity => pool.Capacity;

    /// <summary>Opens a conversation (a slot in every layer); throws <see cref="InvalidOperationException"/> when full.</summary>
    public SomaCausalLMSession OpenSession()
    {
        Model.ThrowIfDisposed();
        return new SomaCausalLMSession(Model, pool.OpenSession());
    }

    /// <summary>Frees the pool's state in every layer once no call runs on its conversations. Never throws and never waits.</summary>
    public void Dispose() => pool.Dispose();
}
