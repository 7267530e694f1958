namespace Tern.Protocol;

/// <summary>
/// A byte budget shared by many decoders: the most memory all of them together may hold in messages being received.
/// A decoder reserves a message buffer's size before it allocates it and gives it back when the message is done, so a
/// crowd of peers each sending a large message slowly cannot make the process buffer more than the budget.
/// </summary>
/// <remarks>Thread-safe. Reserving is a compare-and-swap on one counter.</remarks>
public sealed class BufferBudget
{
    private long _inUse;

    /// <summary>Creates a budget of <paramref name="limit"/> bytes.</summary>
    public BufferBudget(long limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        Limit = limit;
    }

    /// <summary>The most bytes that may be reserved at once.</summary>
    public long Limit { get; }

    /// <summary>Bytes reserved now.</summary>
    public long InUse => Volatile.Read(ref _inUse);

    /// <summary>Reserves <paramref name="bytes"/> if that keeps the total within <see cref="Limit"/>.</summary>
    /// <returns>False, reserving nothing, when the budget cannot take them.</returns>
    public bool TryReserve(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        long current = Volatile.Read(ref _inUse);
        while (true)
        {
            long wanted = current + bytes;
            if (wanted > Limit)
            {
                return false;
            }

            long seen = Interlocked.CompareExchange(ref _inUse, wanted, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }
    }

    /// <summary>Gives back bytes reserved earlier.</summary>
    public void Release(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        Interlocked.Add(ref _inUse, -bytes);
    }
}
