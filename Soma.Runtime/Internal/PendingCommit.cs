namespace Soma.Internal;

/// <summary>
/// A single-pass call whose outputs are on the host and whose commit has not been launched: the pass, its plan and
/// the scratch (rotated keys, values, field after each segment) the commit copies into the sessions' slots.
/// </summary>
/// <param name="Workspace">The scratch the pass's kernels wrote.</param>
/// <param name="Store">The sessions' state.</param>
/// <param name="Pass">Which rows of which sessions.</param>
/// <param name="Plan">The pass's launches.</param>
internal sealed record PendingCommit(Workspace Workspace, StateStore Store, PassPlan Pass, LaunchPlan Plan);
