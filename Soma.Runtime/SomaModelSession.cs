using Soma.Internal;

namespace Soma;

/// <summary>One sequence through a <see cref="SomaModel"/>: a <see cref="SomaSession"/> in every layer, advanced together.</summary>
public sealed class SomaModelSession : IDisposable
{
    internal SomaModelSession(SomaModel model, SomaSession[] sessions)
    {
        Model = model;
        Sessions = sessions;
    }

    /// <summary>The model this sequence runs through.</summary>
    public SomaModel Model { get; }

    /// <summary>Tokens consumed so far.</summary>
    public long Position => Sessions[0].Position;

    /// <summary>Device bytes of this sequence's state across all layers.</summary>
    public long StateBytes => Model.StateBytes;

    internal SomaSession[] Sessions { get; }

    /// <summary>
    /// x [n, D] through every layer in parallel over tokens; returns y [n, D], equal to n <see cref="Decode(ReadOnlySpan{float})"/>
    /// calls. A failed call changes no layer's state.
    /// </summary>
    public float[] Prefill(ReadOnlySpan<float> x)
    {
        var y = new float[x.Length];
        Prefill(x, y);
        return y;
    }

    /// <summary><see cref="Prefill(ReadOnlySpan{float})"/> into a caller-owned y [n, D] of x's length.</summary>
    public void Prefill(ReadOnlySpan<float> x, Span<float> y)
    {
        int rows = CheckPrefill(x, y.Length);
        if (rows > 0)
        {
            Model.Through(new[] { this }, new[] { rows }, x, y, default);
        }
    }

    /// <summary>
    /// <see cref="Prefill(ReadOnlySpan{float})"/> without blocking the caller: the call runs on the thread pool; bad
    /// input throws here. Cancellation is observed before each layer's pass (and each pass of a long prompt); a
    /// cancelled call leaves every layer as it was and the task ends in <see cref="OperationCanceledException"/>.
    /// </summary>
    public Task<float[]> PrefillAsync(ReadOnlyMemory<float> x, CancellationToken cancellationToken = default)
    {
        int rows = CheckPrefill(x.Span, x.Length);
        return ThreadPoolCall.Run(x, rows, (n, input, y, token) => Model.Through(new[] { this }, new[] { n }, input.Span, y, token), cancellationToken);
    }

    /// <summary>One token x [D] through every layer; returns y [D].</summary>
    public float[] Decode(ReadOnlySpan<float> x)
    {
        var y = new float[x.Length];
        Decode(x, y);
        return y;
    }

    /// <summary><see cref="Decode(ReadOnlySpan{float})"/> into a caller-owned y [D].</summary>
    public void Decode(ReadOnlySpan<float> x, Span<float> y)
    {
        CheckDecode(x, y.Length);
        Model.Through(new[] { this }, new[] { 1 }, x, y, default);
    }

    /// <summary><see cref="Decode(ReadOnlySpan{float})"/> without blocking the caller (see <see cref="PrefillAsync"/>).</summary>
    public Task<float[]> DecodeAsync(ReadOnlyMemory<float> x, CancellationToken cancellationToken = default)
    {
        CheckDecode(x.Span, Model.ModelDim);
        return ThreadPoolCall.Run(x, 1, (n, input, y, token) => Model.Through(new[] { this }, new[] { n }, input.Span, y, token), cancellationToken);
    }

    /// <summary>Forgets every token in every layer.</summary>
    public void Reset()
    {
        ThrowIfDisposed();
        var claimed = SomaSession.ClaimAll(Sessions);
        try
        {
            foreach (var s in Sessions)
            {
                s.ClearSlot();
                s.Position = 0;
            }
        }
        finally
        {
            claimed.ForEach(s => s.Release());
        }
    }

    /// <summary>
    /// Writes every layer's state, first to last, each as a checksummed snapshot (see <see cref="SomaSession.SaveState"/>).
    /// </summary>
    public void SaveState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        foreach (var s in Sessions)
        {
            s.SaveState(stream);
        }
    }

    /// <summary>
    /// Reads one snapshot per layer and checks them all before changing anything; a truncated, corrupt or
    /// mismatched stream throws <see cref="InvalidDataException"/> and leaves every layer as it was.
    /// </summary>
    public void LoadState(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var snapshots = new List<(SnapshotHeader Header, float[] RingK, float[] RingV, double[] Field)>();
        for (int l = 0; l < Sessions.Length; l++)
        {
            var snapshot = SessionSnapshot.Read(stream);
            snapshot.Header.CheckFits(Sessions[l].Layer);
            snapshots.Add(snapshot);
        }

        if (snapshots.Select(s => s.Header.Position).Distinct().Count() != 1)
        {
            throw new InvalidDataException("The layers' snapshots are at different positions; they were not saved from one model session.");
        }

        for (int l = 0; l < Sessions.Length; l++)
        {
            Sessions[l].UploadState(snapshots[l].RingK, snapshots[l].RingV, snapshots[l].Field, snapshots[l].Header.Position);
        }
    }

    /// <summary>Returns every layer's slot.</summary>
    public void Dispose()
    {
        foreach (var s in Sessions)
        {
            s.Dispose();
        }
    }

    private void ThrowIfDisposed()
    {
        foreach (var s in Sessions)
        {
            s.ThrowIfDisposed();
        }
    }

    /// <summary>Rows of x [n, D], after checking its shape, y's length and that x is finite.</summary>
    private int CheckPrefill(ReadOnlySpan<float> x, int yLength)
    {
        ThrowIfDisposed();
        return Guard.Rows(x, yLength, Model.ModelDim);
    }

    private void CheckDecode(ReadOnlySpan<float> x, int yLength)
    {
        ThrowIfDisposed();
        Guard.Token(x, yLength, Model.ModelDim);
    }
}

/// <summary>Fixed state for a number of sequences in every layer of a <see cref="SomaModel"/>.</summary>
public sealed class SomaModelPool : IDisposable
{
    private readonly SomaSessionPool[] pools;

    internal SomaModelPool(SomaModel model, SomaSessionPool[] pools)
    {
        Model = model;
        this.pools = pools;
    }

    /// <summary>The model.</summary>
    public SomaModel Model { get; }

    /// <summary>Sequences the pool can hold at once.</summary>
    public int Capacity => pools[0].Capacity;

    /// <summary>Opens a sequence (a slot in every layer); throws <see cref="InvalidOperationException"/> when full.</summary>
    public SomaModelSession OpenSession()
    {
        var sessions = new List<SomaSession>();
        try
        {
            foreach (var pool in pools)
            {
                sessions.Add(pool.OpenSession());
            }
        }
        catch
        {
            sessions.ForEach(s => s.Dispose());
            throw;
        }

        return new SomaModelSession(Model, sessions.ToArray());
    }

    /// <summary>Frees the pool's state in every layer.</summary>
    public void Dispose()
    {
        foreach (var pool in pools)
        {
            pool.Dispose();
        }
    }
}
