using Soma;

namespace Soma.Cli.Bench;

/// <summary>
/// The copies and host waits of a decode step, a prefill and a batched decode step through a layer, counted by running the same calls
/// (same window, pass length, rows and positions) through a tiny layer on the CPU accelerator: the call path, and so
/// its copies and waits, does not depend on the layer's widths or the accelerator. Takes a second; no GPU.
/// </summary>
internal static class CallPathCounts
{
    /// <summary>
    /// The profiles of a decode step at <paramref name="history"/>, a prefill of <paramref name="prefill"/> rows from
    /// position 0 and a batched decode step of <paramref name="batch"/> sessions at <paramref name="history"/>, for
    /// layers shaped like <paramref name="o"/> (only their copies and waits mean anything for <paramref name="o"/>).
    /// </summary>
    public static (SomaCallProfile Decode, SomaCallProfile Prefill, SomaCallProfile Batch) Of(SomaLayerOptions o, long history, int prefill, int batch)
    {
        var tiny = new SomaLayerOptions(8, 2, 1, 4, o.Window, o.IncludeCurrent, o.RopeTheta, maxChunkTokens: o.MaxChunkTokens);
        int channels = tiny.KvHeads * tiny.HeadDim;
        using var engine = SomaEngine.Create(new SomaEngineOptions(SomaAcceleratorKind.Cpu));
        using var layer = engine.CreateLayer(tiny, SomaLayerWeights.CreateRandom(tiny, 1));
        using var session = layer.CreateSession();
        session.UploadState(new float[tiny.Window * channels], new float[tiny.Window * channels], new double[channels], history);
        session.Decode(new float[tiny.ModelDim]);
        var decode = layer.LastCallProfile!;
        session.Reset();
        session.Prefill(new float[(long)prefill * tiny.ModelDim]);
        var prefilled = layer.LastCallProfile!;
        using var pool = layer.CreatePool(batch);
        var members = Enumerable.Range(0, batch).Select(_ => pool.OpenSession()).ToArray();
        foreach (var member in members)
        {
            member.UploadState(new float[tiny.Window * channels], new float[tiny.Window * channels], new double[channels], history);
        }

        layer.DecodeBatch(members, new float[batch * tiny.ModelDim]);
        return (decode, prefilled, layer.LastCallProfile!);
    }
}
