namespace Tern.Chat.Hub;

/// <summary>
/// Allows at most N events in any window of the given length (not per fixed interval, which would let 2N through
/// around an interval's edge). Refused events do not count. Not thread-safe: one per connection, used by its reader.
/// </summary>
public sealed class SlidingWindowRateLimiter
{
    private readonly long[] _accepted;
    private readonly long _windowTicks;
    private readonly TimeProvider _time;
    private int _oldest;
    private int _count;

    /// <summary>Creates a limiter of <paramref name="count"/> events per <paramref name="window"/>.</summary>
    public SlidingWindowRateLimiter(int count, TimeSpan window, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(time);
        _accepted = new long[count];
        _time = time;
        _windowTicks = (long)(window.TotalSeconds * time.TimestampFrequency);
    }

    /// <summary>Counts an event if the limit allows it; otherwise says how long until it would.</summary>
    public bool TryAcquire(out TimeSpan retryAfter)
    {
        long now = _time.GetTimestamp();
        if (_count == _accepted.Length)
        {
            long oldest = _accepted[_oldest];
            long waitTicks = oldest + _windowTicks - now;
            if (waitTicks > 0)
            {
                retryAfter = TimeSpan.FromSeconds((double)waitTicks / _time.TimestampFrequency);
                return false;
            }

            // The oldest event left the window: its slot takes the new one.
            _accepted[_oldest] = now;
            _oldest = (_oldest + 1) % _accepted.Length;
        }
        else
        {
            _accepted[(_oldest + _count) % _accepted.Length] = now;
            _count++;
        }

        retryAfter = TimeSpan.Zero;
        return true;
    }
}
