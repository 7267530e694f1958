namespace Tern.Protocol;

/// <summary>
/// Gives the memory of large, unpooled message buffers back to the system once they are dropped. Large arrays are
/// reclaimed only by a full garbage collection, and the runtime keeps the memory committed afterwards unless asked to
/// give it back; a server whose large-message peers have left may allocate too little for either to happen on its own
/// (measured: 8 peers leaving 48 MiB of unfinished 64 MiB messages left 440 MB resident for good; with this, 51 MB).
/// </summary>
internal static class LargeBufferReclaimer
{
    /// <summary>Dropped bytes past which an aggressive collection (which returns free memory to the system) is scheduled.</summary>
    private const long CollectAfterDroppedBytes = 64L * 1024 * 1024;

    /// <summary>At most one collection per this many milliseconds: it is a blocking, compacting collection.</summary>
    private const long MinimumCollectionIntervalMs = 10_000;

    private static long s_droppedSinceCollect;
    private static long s_lastCollectTicks = -MinimumCollectionIntervalMs;

    // Fired a second after the latest large drop, not per drop: while large messages keep flowing the runtime reuses
    // the memory anyway, and a collection running as the last buffers are dropped would miss them.
    private static readonly Timer s_collect = new(static _ => Collect(), null, Timeout.Infinite, Timeout.Infinite);

    /// <summary>Records that a buffer of <paramref name="bytes"/> was dropped (no longer referenced).</summary>
    public static void Dropped(long bytes)
    {
        if (Interlocked.Add(ref s_droppedSinceCollect, bytes) >= CollectAfterDroppedBytes)
        {
            Interlocked.Exchange(ref s_droppedSinceCollect, 0);
            s_collect.Change(TimeSpan.FromSeconds(1), Timeout.InfiniteTimeSpan);
        }
    }

    private static void Collect()
    {
        long wait = Volatile.Read(ref s_lastCollectTicks) + MinimumCollectionIntervalMs - Environment.TickCount64;
        if (wait > 0)
        {
            s_collect.Change(wait, Timeout.Infinite);
            return;
        }

        Volatile.Write(ref s_lastCollectTicks, Environment.TickCount64);
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
