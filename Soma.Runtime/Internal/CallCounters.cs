namespace Soma.Internal;

/// <summary>
/// Fixed counters of one call (or a published copy of them): launches by kernel, copies, host waits, device bytes and
/// FLOPs. Reset at the start of each call and added to as it enqueues, so counting allocates nothing; a
/// <see cref="SomaCallProfile"/> is built from a published copy only when asked for.
/// </summary>
internal sealed class CallCounters
{
    private readonly int[] launches = new int[KernelCatalog.All.Count];

    /// <summary>Decode or prefill.</summary>
    public SomaCallKind Kind { get; set; }

    /// <summary>Tokens of the call.</summary>
    public int Rows { get; set; }

    /// <summary>Sessions of the call.</summary>
    public int Sessions { get; set; }

    /// <summary>Whether these counters hold a completed call (false until the first).</summary>
    public bool Completed { get; set; }

    /// <summary>Device passes.</summary>
    public int Passes { get; set; }

    /// <summary>Host-to-device copies.</summary>
    public int Uploads { get; set; }

    /// <summary>Device-to-host copies.</summary>
    public int Downloads { get; set; }

    /// <summary>Bytes of the host-to-device copies.</summary>
    public long UploadBytes { get; set; }

    /// <summary>Bytes of the device-to-host copies.</summary>
    public long DownloadBytes { get; set; }

    /// <summary>Stream synchronizations.</summary>
    public int HostWaits { get; set; }

    /// <summary>Device-to-device copies (0 today: the commit saves what it overwrites in its own launch).</summary>
    public int DeviceCopies { get; set; }

    /// <summary>Device bytes read by the launches.</summary>
    public long BytesRead { get; set; }

    /// <summary>Device bytes written by the launches.</summary>
    public long BytesWritten { get; set; }

    /// <summary>FLOPs of the launches.</summary>
    public long Flops { get; set; }

    /// <summary>Host clock ticks (<see cref="System.Diagnostics.Stopwatch"/>) of the call.</summary>
    public long ElapsedTicks { get; set; }

    /// <summary>Managed bytes the calling thread allocated during the call (call-wide: copied, never summed).</summary>
    public long ManagedBytes { get; set; }

    /// <summary>Launches of every kernel together.</summary>
    public int Launches
    {
        get
        {
            int total = 0;
            foreach (int count in launches)
            {
                total += count;
            }

            return total;
        }
    }

    /// <summary>Zeroes every counter (the start of a call).</summary>
    public void Reset()
    {
        Array.Clear(launches);
        (Passes, Uploads, Downloads, HostWaits, DeviceCopies) = (0, 0, 0, 0, 0);
        (BytesRead, BytesWritten, Flops, ElapsedTicks, ManagedBytes) = (0, 0, 0, 0, 0);
        (UploadBytes, DownloadBytes) = (0, 0);
        (Rows, Sessions, Completed) = (0, 0, false);
    }

    /// <summary>Counts a pass's launches (without its commit) and their bytes and FLOPs (its upload is counted where it is enqueued).</summary>
    /// <param name="cost">The pass's cost (<see cref="LaunchPlan.Cost"/>).</param>
    public void AddPass(PassCost cost)
    {
        for (int i = 0; i < launches.Length; i++)
        {
            launches[i] += cost.Launches[i];
        }

        Passes++;
        BytesRead += cost.BytesRead;
        BytesWritten += cost.BytesWritten;
        Flops += cost.Flops;
    }

    /// <summary>Counts a pass's commit launch.</summary>
    /// <param name="cost">The pass's cost.</param>
    public void AddCommit(PassCost cost)
    {
        launches[PassCost.CommitKernel]++;
        BytesRead += cost.CommitBytes;
        BytesWritten += cost.CommitBytes;
    }

    /// <summary>Makes these counters a copy of <paramref name="other"/> (publishing a call).</summary>
    /// <param name="other">The counters to copy.</param>
    public void CopyFrom(CallCounters other)
    {
        Reset();
        Add(other);
        (Kind, Rows, Sessions, ElapsedTicks, Completed) = (other.Kind, other.Rows, other.Sessions, other.ElapsedTicks, other.Completed);
        ManagedBytes = other.ManagedBytes;
    }

    /// <summary>Adds <paramref name="other"/>'s counts (a model's layers summed); leaves kind, rows, sessions, time and managed bytes.</summary>
    /// <param name="other">The counters to add.</param>
    public void Add(CallCounters other)
    {
        for (int i = 0; i < launches.Length; i++)
        {
            launches[i] += other.launches[i];
        }

        (Passes, Uploads, Downloads) = (Passes + other.Passes, Uploads + other.Uploads, Downloads + other.Downloads);
        (HostWaits, DeviceCopies) = (HostWaits + other.HostWaits, DeviceCopies + other.DeviceCopies);
        (UploadBytes, DownloadBytes) = (UploadBytes + other.UploadBytes, DownloadBytes + other.DownloadBytes);
        (BytesRead, BytesWritten, Flops) = (BytesRead + other.BytesRead, BytesWritten + other.BytesWritten, Flops + other.Flops);
    }

    /// <summary>The public view of these counters (allocates; built only when asked for).</summary>
    public SomaCallProfile ToProfile()
    {
        var byKernel = new Dictionary<string, int>();
        for (int i = 0; i < launches.Length; i++)
        {
            if (launches[i] > 0)
            {
                byKernel[KernelCatalog.All[i].Name] = launches[i];
            }
        }

        return new SomaCallProfile(
            Kind, Rows, Sessions, Passes, byKernel.AsReadOnly(), Uploads, Downloads, HostWaits, DeviceCopies, BytesRead, BytesWritten, Flops,
            System.Diagnostics.Stopwatch.GetElapsedTime(0, ElapsedTicks), ManagedBytes)
        {
            UploadBytes = UploadBytes,
            DownloadBytes = DownloadBytes,
        };
    }
}
