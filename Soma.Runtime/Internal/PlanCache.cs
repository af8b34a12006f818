namespace Soma.Internal;

/// <summary>
/// A layer's launch plans by pass shape, so that a pass shape is planned once: every decode step after the ring has
/// filled reuses one plan. Used under the layer's lock only. Bounded: past <see cref="Capacity"/> shapes (long
/// prefills of many different lengths) it starts over.
/// </summary>
internal sealed class PlanCache
{
    /// <summary>Most plans kept.</summary>
    public const int Capacity = 256;

    private readonly Dictionary<PlanKey, LaunchPlan> plans = new();
    private readonly Func<PlanKey, LaunchPlan> create;

    /// <summary>A cache that builds a missing plan with <paramref name="create"/>.</summary>
    /// <param name="create">Builds the plan of a pass shape.</param>
    public PlanCache(Func<PlanKey, LaunchPlan> create)
    {
        this.create = create;
    }

    /// <summary>Plans built so far (tests and logs).</summary>
    public int Count => plans.Count;

    /// <summary>The plan for <paramref name="key"/>, built on first use.</summary>
    public LaunchPlan For(PlanKey key)
    {
        if (plans.TryGetValue(key, out var plan))
        {
            return plan;
        }

        if (plans.Count >= Capacity)
        {
            plans.Clear();
        }

        plan = create(key);
        plans.Add(key, plan);
        return plan;
    }
}
