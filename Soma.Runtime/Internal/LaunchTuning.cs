namespace Soma.Internal;

/// <summary>
/// Overrides of the launch choices <see cref="LaunchShapes"/> makes for an accelerator, fixed when the engine is
/// created (<see cref="SomaEngineOptions.Tuning"/>), so that no running layer sees them change. Tests use them to run
/// the GPU code paths (split windows, split-K, staged tiles) on the CPU accelerator. Null: the accelerator's default.
/// </summary>
internal sealed record LaunchTuning
{
    private readonly int? attentionTargetGroups;
    private readonly int? projectionTargetGroups;
    private readonly int? minKeysPerSplit;
    private readonly int? minSliceWidth;

    /// <summary>Groups the attention launch should have; fewer rows x kv heads split each window (&gt;= 1).</summary>
    public int? AttentionTargetGroups
    {
        get => attentionTargetGroups;
        init => attentionTargetGroups = AtLeastOne(value, nameof(AttentionTargetGroups));
    }

    /// <summary>Groups a projection launch should have; fewer tiles split the input width (split-K) (&gt;= 1).</summary>
    public int? ProjectionTargetGroups
    {
        get => projectionTargetGroups;
        init => projectionTargetGroups = AtLeastOne(value, nameof(ProjectionTargetGroups));
    }

    /// <summary>Fewest keys a window split may hold (&gt;= 1).</summary>
    public int? MinKeysPerSplit
    {
        get => minKeysPerSplit;
        init => minKeysPerSplit = AtLeastOne(value, nameof(MinKeysPerSplit));
    }

    /// <summary>Narrowest input slice a split-K group may take (&gt;= 1).</summary>
    public int? MinSliceWidth
    {
        get => minSliceWidth;
        init => minSliceWidth = AtLeastOne(value, nameof(MinSliceWidth));
    }

    /// <summary>Whether decode passes take the split-KV decode attention (where it applies) instead of near-field attention.</summary>
    public bool? SplitKvDecode { get; init; }

    /// <summary>Whether attention stages key and value tiles in shared memory.</summary>
    public bool? StageAttentionTiles { get; init; }

    /// <summary>The value, or an <see cref="ArgumentOutOfRangeException"/> naming <paramref name="name"/> when it is below 1.</summary>
    private static int? AtLeastOne(int? value, string name) =>
        value is < 1 ? throw new ArgumentOutOfRangeException(name, value, $"{name} must be >= 1.") : value;
}
