using Soma.Internal;

namespace Soma;

/// <summary>
/// A stack of Soma layers with their own weights and states, behind the same session API as one layer: layer l's
/// output is layer l+1's input (plain composition; norms and residuals belong to the caller's model code).
/// State per sequence scales with the number of layers, never with tokens.
/// </summary>
public sealed class SomaModel : IDisposable
{
    private readonly SomaLayer[] layers;
    private bool disposed;

    internal SomaModel(SomaEngine engine, SomaLayer[] layers)
    {
        Engine = engine;
        this.layers = layers;
    }

    /// <summary>The engine whose accelerator holds the layers.</summary>
    public SomaEngine Engine { get; }

    /// <summary>The layers, first to last.</summary>
    public IReadOnlyList<SomaLayer> Layers => layers;

    /// <summary>Model width D (every layer's input and output width).</summary>
    public int ModelDim => layers[0].Options.ModelDim;

    /// <summary>Device bytes of one sequence's state across all layers.</summary>
    public long StateBytes => layers.Sum(l => l.StateBytes);

    /// <summary>Opens a sequence with its own state in every layer.</summary>
    public SomaModelSession CreateSession()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var sessions = new List<SomaSession>();
        try
        {
            foreach (var layer in layers)
            {
                sessions.Add(layer.CreateSession());
            }
        }
        catch
        {
            sessions.ForEach(s => s.Dispose());
            throw;
        }

        return new SomaModelSession(this, sessions.ToArray());
    }

    /// <summary>
    /// Allocates state for <paramref name="capacity"/> sequences in every layer up front; sessions opened from it
    /// can be decoded together with <see cref="DecodeBatch"/>.
    /// </summary>
    public SomaModelPool CreatePool(int capacity)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        Guard.Positive(capacity, nameof(capacity));
        var pools = new List<SomaSessionPool>();
        try
        {
            foreach (var layer in layers)
            {
                pools.Add(layer.CreatePool(capacity));
            }
        }
        catch
        {
            pools.ForEach(p => p.Dispose());
            throw;
        }

        return new SomaModelPool(this, pools.ToArray());
    }

    /// <summary>
    /// One token for each of B sequences through every layer (one device pass per layer): x [B, D] -> y [B, D].
    /// Sessions must be distinct, open, of this model and of one <see cref="SomaModelPool"/>.
    /// </summary>
    public float[] DecodeBatch(IReadOnlyList<SomaModelSession> sessions, ReadOnlySpan<float> x)
    {
        ArgumentNullException.ThrowIfNull(sessions);
        for (int b = 0; b < sessions.Count; b++)
        {
            if (sessions[b] is not { } s || s.Model != this)
            {
                throw new ArgumentException($"sessions[{b}] is null or belongs to another model.", nameof(sessions));
            }
        }

        Guard.Length(x, (long)sessions.Count * ModelDim, nameof(x), $"[B={sessions.Count}, D={ModelDim}]");
        return Through(sessions, (layer, l, input, output) =>
            layer.DecodeBatch(sessions.Select(s => s.Sessions[l]).ToArray(), input, output), x);
    }

    /// <summary>Disposes every layer (and with them every session and pool of the model).</summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        foreach (var layer in layers)
        {
            layer.Dispose();
        }
    }

    /// <summary>
    /// Runs <paramref name="x"/> through every layer with <paramref name="step"/>. Every layer's state of every
    /// session is copied on the device first and put back if any layer fails, so a failed call changes nothing.
    /// </summary>
    internal float[] Through(IReadOnlyList<SomaModelSession> sessions, LayerStep step, ReadOnlySpan<float> x)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var backups = new List<(SomaSession Session, SlotBackup Backup, long Position)>();
        try
        {
            foreach (var session in sessions)
            {
                foreach (var s in session.Sessions)
                {
                    s.ThrowIfDisposed();
                    backups.Add((s, SlotBackup.Take(Engine, s.Pool.Store, s.Slot), s.Position));
                }
            }

            var input = x.ToArray();
            var output = new float[x.Length];
            try
            {
                for (int l = 0; l < layers.Length; l++)
                {
                    step(layers[l], l, input, output);
                    (input, output) = (output, input);
                }
            }
            catch
            {
                foreach (var (s, backup, position) in backups)
                {
                    backup.Restore(Engine.Accelerator.DefaultStream);
                    s.Position = position;
                }

                throw;
            }

            return input;
        }
        finally
        {
            backups.ForEach(b => b.Backup.Dispose());
        }
    }

    /// <summary>One layer's share of a model call: layer, its index, input rows, output rows.</summary>
    internal delegate void LayerStep(SomaLayer layer, int index, float[] input, float[] output);
}
