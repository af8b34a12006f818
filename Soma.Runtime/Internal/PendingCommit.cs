namespace Soma.Internal;

/// <summary>
/// A single-pass call whose outputs are on the host and whose commit has not been launched: the pass and the
/// scratch (rotated keys, values, field after each segment) the commit copies into the sessions' slots.
/// </summary>
internal sealed record PendingCommit(Workspace Workspace, StateStore Store, PassPlan Pass);
