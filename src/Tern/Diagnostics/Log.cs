using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Tern.Diagnostics;

/// <summary>
/// Every log event Tern writes, with its <see cref="EventId"/> and structured fields (source-generated, so a disabled
/// level costs a check and nothing else). Text a peer chose goes through <see cref="PeerText"/>; events a crowd of
/// clients can trigger go through a <see cref="LogThrottle"/>. The table in docs/configuration.md lists them.
/// </summary>
internal static partial class Log
{
    // 100s: the server's life.
    [LoggerMessage(100, LogLevel.Information, "Listening on {EndPoint} (at most {MaxConnections} connections)")]
    public static partial void Listening(ILogger logger, EndPoint? endPoint, int maxConnections);

    [LoggerMessage(101, LogLevel.Information, "Stopping: closing {Count} connections")]
    public static partial void Stopping(ILogger logger, int count);

    [LoggerMessage(102, LogLevel.Information, "Stopped")]
    public static partial void Stopped(ILogger logger);

    [LoggerMessage(103, LogLevel.Warning, "Stopped with {Count} handlers still running after their connections were dropped")]
    public static partial void StoppedWithHandlersRunning(ILogger logger, int count);

    // 200s: accepting, and the connection limits.
    [LoggerMessage(200, LogLevel.Warning, "Accept on {EndPoint} failed: {Message} ({SocketError}, error {ErrorCode}); backing off {Delay} ms ({Unlogged} more failures since the last line)")]
    public static partial void AcceptBackoff(ILogger logger, EndPoint? endPoint, string message, SocketError socketError, int errorCode, long delay, int unlogged);

    [LoggerMessage(201, LogLevel.Information, "Accepting again on {EndPoint} after {Failures} failed attempts over {Duration} ms")]
    public static partial void AcceptResumed(ILogger logger, EndPoint? endPoint, int failures, long duration);

    [LoggerMessage(202, LogLevel.Warning, "Out of file descriptors with {Held} connections held: released {Reserve} reserved descriptors to the runtime; holding at most {Held} connections until some close")]
    public static partial void OutOfDescriptors(ILogger logger, int held, int reserve);

    [LoggerMessage(203, LogLevel.Information, "File descriptors available again with {Held} connections held: accepting up to {Max}")]
    public static partial void DescriptorsAvailable(ILogger logger, int held, int max);

    [LoggerMessage(204, LogLevel.Debug, "Refused a connection from {Remote}: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, IPAddress remote, string reason);

    [LoggerMessage(205, LogLevel.Warning, "Refused {Count} connections over the connection limits in the last {Seconds:F1} s (holding {Held}, at most {Max}); in all {MaxConnections} for max_connections, {PerAddress} for max_connections_per_address")]
    public static partial void RefusalsSummary(ILogger logger, long count, double seconds, int held, int max, long maxConnections, long perAddress);

    // 300s: handshakes and plain HTTP requests.
    [LoggerMessage(300, LogLevel.Information, "Handshake from {Remote}: no complete request within {Timeout}{Suppressed}")]
    private static partial void HandshakeTimeout(ILogger logger, IPEndPoint remote, TimeSpan timeout, SuppressedLines suppressed);

    public static void HandshakeTimeout(ILogger logger, LogThrottle throttle, IPEndPoint remote, TimeSpan timeout)
    {
        if (logger.IsEnabled(LogLevel.Information) && throttle.TryEnter(out long suppressed))
        {
            HandshakeTimeout(logger, remote, timeout, new SuppressedLines(suppressed));
        }
    }

    [LoggerMessage(301, LogLevel.Information, "Refused {Method} {Path} from {Remote}: {Status} {Reason}{Suppressed}")]
    private static partial void HandshakeRefused(ILogger logger, PeerText method, PeerText path, IPEndPoint remote, int status, string reason, SuppressedLines suppressed);

    public static void HandshakeRefused(ILogger logger, LogThrottle throttle, string? method, string? path, IPEndPoint remote, int status, string reason)
    {
        if (logger.IsEnabled(LogLevel.Information) && throttle.TryEnter(out long suppressed))
        {
            HandshakeRefused(logger, new PeerText(method), new PeerText(path), remote, status, reason, new SuppressedLines(suppressed));
        }
    }

    [LoggerMessage(308, LogLevel.Information, "TLS handshake with {Remote} failed: {Reason}{Suppressed}")]
    private static partial void TlsHandshakeFailed(ILogger logger, IPEndPoint remote, string reason, SuppressedLines suppressed);

    /// <summary>A client that did not complete the TLS handshake: routine on a public port, so no stack trace.</summary>
    public static void TlsHandshakeFailed(ILogger logger, LogThrottle throttle, IPEndPoint remote, string reason)
    {
        if (logger.IsEnabled(LogLevel.Information) && throttle.TryEnter(out long suppressed))
        {
            TlsHandshakeFailed(logger, remote, reason, new SuppressedLines(suppressed));
        }
    }

    [LoggerMessage(302, LogLevel.Error, "Handshake with {Remote} failed unexpectedly")]
    public static partial void HandshakeFailed(ILogger logger, Exception exception, IPEndPoint remote);

    [LoggerMessage(303, LogLevel.Error, "Handshake from {Remote}: the OnHandshake hook threw")]
    public static partial void HandshakeHookThrew(ILogger logger, Exception exception, IPEndPoint remote);

    [LoggerMessage(304, LogLevel.Error, "Handshake from {Remote}: the hook chose subprotocol {Subprotocol}, which the client did not offer")]
    public static partial void HookChoseUnofferedSubprotocol(ILogger logger, IPEndPoint remote, PeerText subprotocol);

    [LoggerMessage(305, LogLevel.Error, "Handshake from {Remote}: invalid response headers from the OnHandshake hook")]
    public static partial void HookInvalidResponseHeaders(ILogger logger, Exception exception, IPEndPoint remote);

    [LoggerMessage(306, LogLevel.Error, "HTTP handler threw for {Method} {Path}")]
    public static partial void HttpHandlerThrew(ILogger logger, Exception exception, PeerText method, PeerText path);

    [LoggerMessage(307, LogLevel.Debug, "HTTP {Method} {Path} from {Remote}")]
    public static partial void HttpRequestServed(ILogger logger, PeerText method, PeerText path, IPEndPoint remote);

    // 400s: WebSocket connections.
    // Every connection's opening and closing are normal operation: Debug, so a busy server's log shows its problems,
    // and an application that wants a line per connection writes its own (as Tern.Chat does) or enables Debug.
    [LoggerMessage(400, LogLevel.Debug, "Connection {Id} opened from {Remote} on {Path}")]
    public static partial void ConnectionOpened(ILogger logger, long id, IPEndPoint remote, PeerText path);

    [LoggerMessage(401, LogLevel.Debug, "Connection {Id} closed: {Code} {Reason}")]
    private static partial void ConnectionClosed(ILogger logger, long id, int? code, PeerText reason);

    public static void ConnectionClosed(ILogger logger, long id, WebSocketCloseInfo? info) =>
        ConnectionClosed(logger, id, (int?)info?.Code, new PeerText(info?.Reason));

    [LoggerMessage(402, LogLevel.Information, "Connection {Id} from {Remote}: closing with {Code}: {Reason}{Suppressed}")]
    private static partial void ProtocolErrorClose(ILogger logger, long id, IPEndPoint remote, int code, string reason, SuppressedLines suppressed);

    public static void ProtocolErrorClose(ILogger logger, LogThrottle throttle, long id, IPEndPoint remote, WebSocketCloseCode code, string reason)
    {
        if (logger.IsEnabled(LogLevel.Information) && throttle.TryEnter(out long suppressed))
        {
            ProtocolErrorClose(logger, id, remote, (int)code, reason, new SuppressedLines(suppressed));
        }
    }

    [LoggerMessage(403, LogLevel.Information, "Connection {Id} from {Remote}: no answer to a keepalive ping for {Seconds:F1} s; dropping{Suppressed}")]
    private static partial void KeepAliveTimeout(ILogger logger, long id, IPEndPoint remote, double seconds, SuppressedLines suppressed);

    public static void KeepAliveTimeout(ILogger logger, LogThrottle throttle, long id, IPEndPoint remote, double seconds)
    {
        if (logger.IsEnabled(LogLevel.Information) && throttle.TryEnter(out long suppressed))
        {
            KeepAliveTimeout(logger, id, remote, seconds, new SuppressedLines(suppressed));
        }
    }

    [LoggerMessage(404, LogLevel.Warning, "Connection {Id} from {Remote}: send queue over {Limit} bytes; closing the slow client with 1008 ({Discarded} queued bytes discarded){Suppressed}")]
    private static partial void SlowConsumerClosed(ILogger logger, long id, IPEndPoint remote, long limit, long discarded, SuppressedLines suppressed);

    public static void SlowConsumerClosed(ILogger logger, LogThrottle throttle, long id, IPEndPoint remote, long limit, long discarded)
    {
        if (logger.IsEnabled(LogLevel.Warning) && throttle.TryEnter(out long suppressed))
        {
            SlowConsumerClosed(logger, id, remote, limit, discarded, new SuppressedLines(suppressed));
        }
    }

    [LoggerMessage(405, LogLevel.Debug, "Connection {Id}: send queue over {Limit} bytes; message dropped")]
    public static partial void MessageDropped(ILogger logger, long id, long limit);

    [LoggerMessage(406, LogLevel.Error, "Connection {Id}: the handler threw; closing with 1011{Suppressed}")]
    private static partial void HandlerThrew(ILogger logger, Exception exception, long id, SuppressedLines suppressed);

    public static void HandlerThrew(ILogger logger, LogThrottle throttle, Exception exception, long id)
    {
        if (logger.IsEnabled(LogLevel.Error) && throttle.TryEnter(out long suppressed))
        {
            HandlerThrew(logger, exception, id, new SuppressedLines(suppressed));
        }
    }

    [LoggerMessage(407, LogLevel.Debug, "Connection {Id}: the handler sent, or read a message, after the connection closed")]
    public static partial void HandlerSentAfterClose(ILogger logger, long id);

    [LoggerMessage(408, LogLevel.Debug, "Connection {Id}: closing with {Code}")]
    public static partial void Closing(ILogger logger, long id, int code);

    [LoggerMessage(409, LogLevel.Debug, "Connection {Id}: peer closed with {Code} {Reason}")]
    public static partial void PeerClosed(ILogger logger, long id, int code, PeerText reason);

    [LoggerMessage(410, LogLevel.Debug, "Connection {Id}: no close frame from the peer in time; dropping")]
    public static partial void NoCloseInTime(ILogger logger, long id);

    [LoggerMessage(411, LogLevel.Debug, "Connection {Id}: dropped without a close frame")]
    public static partial void DroppedWithoutClose(ILogger logger, long id);

    [LoggerMessage(309, LogLevel.Error, "Connection from {Remote}: setting it up failed; it was dropped")]
    public static partial void SessionFailed(ILogger logger, Exception exception, IPAddress remote);

    [LoggerMessage(412, LogLevel.Error, "Connection {Id}: releasing the connection failed")]
    public static partial void TeardownFailed(ILogger logger, Exception exception, long id);

    /// <summary>The note a throttled line carries about the lines held back before it; empty when there were none.</summary>
    private readonly struct SuppressedLines(long count)
    {
        public override string ToString() => count == 0 ? "" : $" ({count} similar lines were not logged)";
    }
}
