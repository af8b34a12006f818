namespace Soma.Internal;

/// <summary>
/// The stages of a device pass, in the order a pass runs them. The layer's fault-injection hook
/// (<see cref="SomaLayer.BeforeStage"/>) is called with each stage's name (<see cref="StageNames.Of"/>) before it is
/// enqueued.
/// </summary>
internal enum Stage
{
    /// <summary>"upload": x copied to the device.</summary>
    Upload,

    /// <summary>"rope": the RoPE angle table of the pass's positions.</summary>
    Rope,

    /// <summary>"qkv": the fused QKV projection with bias and RoPE.</summary>
    Qkv,

    /// <summary>"scan": the field scan over each segment.</summary>
    Scan,

    /// <summary>"attention": near-field attention with the far field added (and the split combine).</summary>
    Attention,

    /// <summary>"output": the output projection.</summary>
    Output,

    /// <summary>"download": y copied to the host.</summary>
    Download,

    /// <summary>"commit": ring entries and field written into the sessions' slots (the only state write).</summary>
    Commit,
    /// <summary>"committed": after the commit launch is enqueued (it enqueues nothing: a fault here follows the commit).</summary>
    Committed,
}
