namespace Tern.Diagnostics;

/// <summary>
/// Lets through at most a few lines of one kind per second; the rest are counted, and the count is reported with the
/// next line let through ("{Suppressed} similar lines were not logged"). A crowd of misbehaving clients then costs a few
/// lines a second, not one per client, while a lone event is still logged at once.
/// </summary>
/// <remarks>Thread-safe. Callers check that the level is enabled first, so a disabled level costs nothing.</remarks>
internal sealed class LogThrottle(int linesPerSecond = LogThrottle.DefaultLinesPerSecond)
{
    public const int DefaultLinesPerSecond = 5;

    // Far enough in the past that the first line opens a window (TickCount64 counts from boot, so it is never negative).
    private long _windowStart = -1_000_000;
    private int _linesInWindow;
    private long _suppressed;

    /// <summary>True when this line may be written; <paramref name="suppressed"/> is how many were held back since the last one written.</summary>
    public bool TryEnter(out long suppressed)
    {
        long now = Environment.TickCount64;
        lock (this)
        {
            if (now - _windowStart >= 1000)
            {
                _windowStart = now;
                _linesInWindow = 0;
            }

            if (_linesInWindow < linesPerSecond)
            {
                _linesInWindow++;
                suppressed = _suppressed;
                _suppressed = 0;
                return true;
            }

            _suppressed++;
            suppressed = 0;
            return false;
        }
    }
}

/// <summary>One <see cref="LogThrottle"/> per kind of event a crowd of clients can cause, shared by a server's connections.</summary>
internal sealed class LogThrottles
{
    public LogThrottle HandshakeTimeouts { get; } = new();

    public LogThrottle Refusals { get; } = new();

    public LogThrottle TlsFailures { get; } = new();

    public LogThrottle ProtocolErrors { get; } = new();

    public LogThrottle KeepAliveTimeouts { get; } = new();

    public LogThrottle SlowConsumers { get; } = new();

    public LogThrottle HandlerErrors { get; } = new();
}
