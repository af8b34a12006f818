namespace Soma.Internal;

/// <summary>The async session calls: a synchronous call on the thread pool, into a new y of x's length.</summary>
internal static class ThreadPoolCall
{
    /// <summary>
    /// Runs <paramref name="call"/>(rows, x, y, token) on the thread pool and returns y; with no rows it returns an
    /// empty y without calling. A token cancelled before the task starts cancels it.
    /// </summary>
    public static Task<float[]> Run(
        ReadOnlyMemory<float> x, int rows, Action<int, ReadOnlyMemory<float>, float[], CancellationToken> call, CancellationToken cancellationToken) =>
        Task.Run(
            () =>
            {
                var y = new float[x.Length];
                if (rows > 0)
                {
                    call(rows, x, y, cancellationToken);
                }

                return y;
            },
            cancellationToken);
}
