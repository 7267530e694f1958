namespace Tern;

// The keepalive pass: one timer for all connections, pinging the silent ones and dropping the dead.
public sealed partial class WebSocketServer
{
    private void KeepAliveTick()
    {
        // A slow pass must not overlap the next timer tick (it would ping or drop the same connection twice).
        if (Interlocked.Exchange(ref _keepAliveRunning, 1) != 0)
        {
            return;
        }

        try
        {
            KeepAlivePass();
        }
        finally
        {
            Volatile.Write(ref _keepAliveRunning, 0);
        }
    }

    private void KeepAlivePass()
    {
        long now = Environment.TickCount64;
        long late = now - _lastKeepAliveTicks - _keepAlivePeriodMs;
        if (late > _keepAlivePeriodMs)
        {
            // The timer fired late: the process was stalled (starved of CPU, paused by a debugger or the GC), and pongs
            // may be sitting unread in the sockets. Keepalive timeouts run on a clock that skips the stall, so peers are
            // not dropped for the server's own delay (the false "keepalive ping timeout" of a blocked event loop).
            _stalledMs += late;
        }

        _lastKeepAliveTicks = now;
        long interval = (long)_options.KeepAliveInterval.TotalMilliseconds;
        long timeout = (long)_options.KeepAliveTimeout.TotalMilliseconds;
        foreach (WebSocketConnection connection in _connections.Values)
        {
            connection.KeepAliveTick(now, now - _stalledMs, interval, timeout);
        }
    }
}
