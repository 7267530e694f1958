using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Tern.Diagnostics;

namespace Tern;

/// <summary>
/// The pause of one accept loop after transient failures (out of file descriptors, out of buffers, a connection reset
/// before it was accepted): 5 ms, doubling per consecutive failure up to 1 s, reset by the next accept. Logs one line
/// a second at most, without a stack trace. Used by a single accept loop, so not thread-safe.
/// </summary>
/// <remarks>
/// Retrying at once would spin: at the file limit every attempt fails the same way, and a line with a stack trace per
/// attempt costs memory and descriptors (symbol files) the process no longer has.
/// </remarks>
internal sealed class AcceptBackoff(ILogger logger, EndPoint? listener)
{
    public static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(5);
    public static readonly TimeSpan Maximum = TimeSpan.FromSeconds(1);
    private const long LogIntervalMs = 1000;

    private TimeSpan _delay;
    private int _failures;
    private int _unlogged;
    private long _firstFailureTicks;
    private long _lastLogTicks;

    /// <summary>Records a failed accept and returns how long to wait before the next.</summary>
    public TimeSpan OnFailure(SocketException error)
    {
        long now = Environment.TickCount64;
        _delay = _failures == 0 ? Initial : TimeSpan.FromTicks(Math.Min(_delay.Ticks * 2, Maximum.Ticks));
        if (_failures++ == 0)
        {
            _firstFailureTicks = now;
        }
        else if (now - _lastLogTicks < LogIntervalMs)
        {
            _unlogged++;
            return _delay;
        }

        Log.AcceptBackoff(logger, listener, error.Message, error.SocketErrorCode, error.NativeErrorCode, (long)_delay.TotalMilliseconds, _unlogged);
        _lastLogTicks = now;
        _unlogged = 0;
        return _delay;
    }

    /// <summary>Records a successful accept: ends a run of failures.</summary>
    public void OnSuccess()
    {
        if (_failures == 0)
        {
            return;
        }

        Log.AcceptResumed(logger, listener, _failures, Environment.TickCount64 - _firstFailureTicks);
        _failures = 0;
        _unlogged = 0;
    }
}
