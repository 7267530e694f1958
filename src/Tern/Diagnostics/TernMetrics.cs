using System.Diagnostics.Metrics;
using System.Reflection;

namespace Tern.Diagnostics;

/// <summary>
/// The <c>Tern</c> meter of one <see cref="WebSocketServer"/> and its instruments (listed in docs/configuration.md).
/// </summary>
/// <remarks>
/// <para>Gauges and counters the server already keeps (open connections, held sockets, refusals, accept back-offs,
/// buffered and queued bytes) are observable instruments read at collection time, so they cost nothing between
/// collections. Events with no counter of their own are recorded as they happen.</para>
/// <para>The per-message methods check <see cref="Instrument.Enabled"/> first and pass pre-built tags, so with nobody
/// listening a message costs a null check and a field read, and with a listener it still allocates nothing.</para>
/// </remarks>
internal sealed class TernMetrics : IDisposable
{
    /// <summary>The meter's name: what <c>dotnet-counters --counters</c> and OpenTelemetry's <c>AddMeter</c> take.</summary>
    public const string MeterName = "Tern";

    private static readonly KeyValuePair<string, object?> s_text = new("type", "text");
    private static readonly KeyValuePair<string, object?> s_binary = new("type", "binary");
    private static readonly KeyValuePair<string, object?> s_dropped = new("action", "dropped");
    private static readonly KeyValuePair<string, object?> s_closed = new("action", "closed");
    private static readonly KeyValuePair<string, object?> s_maxConnections = new("reason", ConnectionLimiter.ReasonName(ConnectionRefusalReason.MaxConnections));
    private static readonly KeyValuePair<string, object?> s_maxPerAddress = new("reason", ConnectionLimiter.ReasonName(ConnectionRefusalReason.MaxConnectionsPerAddress));

    private readonly bool _ownsMeter;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _opened;
    private readonly Counter<long> _handshakeFailures;
    private readonly Counter<long> _messagesReceived;
    private readonly Counter<long> _messagesSent;
    private readonly Counter<long> _bytesReceived;
    private readonly Counter<long> _bytesSent;
    private readonly Counter<long> _slowConsumerActions;
    private readonly Counter<long> _closesSent;
    private readonly Counter<long> _closesReceived;

    public TernMetrics(WebSocketServer server, IMeterFactory? meterFactory)
    {
        var options = new MeterOptions(MeterName) { Version = typeof(TernMetrics).Assembly.GetName().Version?.ToString() };
        // A factory's meter belongs to the factory (the host disposes it); one made here is disposed with the server.
        _ownsMeter = meterFactory is null;
        Meter = meterFactory?.Create(options) ?? new Meter(options);

        Meter.CreateObservableUpDownCounter("tern.connections.active", () => server.ConnectionCount, "{connection}",
            "Open WebSocket connections (handshake done, not yet closed).");
        Meter.CreateObservableUpDownCounter("tern.connections.held", () => server.Limiter?.Held ?? 0, "{connection}",
            "Sockets held against MaxConnections: handshaking, open and closing.");
        _accepted = Meter.CreateCounter<long>("tern.connections.accepted", "{connection}",
            "Sockets accepted and admitted under the connection limits.");
        _opened = Meter.CreateCounter<long>("tern.connections.opened", "{connection}",
            "WebSocket handshakes completed (101 sent).");
        Meter.CreateObservableCounter("tern.connections.refused", () => ObserveRefusals(server), "{connection}",
            "Sockets refused over MaxConnections or MaxConnectionsPerAddress, by reason.");
        _handshakeFailures = Meter.CreateCounter<long>("tern.handshake.failures", "{request}",
            "Requests answered with an HTTP error instead of 101, by status code.");
        _messagesReceived = Meter.CreateCounter<long>("tern.messages.received", "{message}",
            "Data messages received and handed to the application, by type.");
        _messagesSent = Meter.CreateCounter<long>("tern.messages.sent", "{message}",
            "Data messages queued for sending (broadcast deliveries included), by type.");
        _bytesReceived = Meter.CreateCounter<long>("tern.bytes.received", "By",
            "Payload bytes of the data messages received, by type.");
        _bytesSent = Meter.CreateCounter<long>("tern.bytes.sent", "By",
            "Payload bytes of the data messages queued for sending, by type.");
        Meter.CreateObservableUpDownCounter("tern.send_queue.bytes", () => server.SendQueueBytes, "By",
            "Bytes queued for sending and not yet handed to the sockets, over all open connections.");
        Meter.CreateObservableUpDownCounter("tern.receive_buffer.bytes", () => server.BufferedBytes, "By",
            "Bytes held in messages being received, over all connections (counted against MaxBufferedBytes).");
        _slowConsumerActions = Meter.CreateCounter<long>("tern.slow_consumer.actions", "{action}",
            "Sends to a connection over MaxSendQueueSize that dropped the message or closed the connection.");
        _closesSent = Meter.CreateCounter<long>("tern.closes.sent", "{close}",
            "Close frames sent, by close code (1005: a close frame without a code).");
        _closesReceived = Meter.CreateCounter<long>("tern.closes.received", "{close}",
            "Close frames received, by close code (1005: a close frame without a code).");
        Meter.CreateObservableCounter("tern.accept.backoffs", () => server.AcceptBackoffs, "{backoff}",
            "Pauses of an accept loop after a failed accept (out of file descriptors, for example).");
    }

    /// <summary>This server's meter: tests tell it from other servers' meters of the same name by reference.</summary>
    public Meter Meter { get; }

    public void ConnectionAccepted() => _accepted.Add(1);

    public void ConnectionOpened() => _opened.Add(1);

    public void HandshakeFailed(int statusCode)
    {
        if (_handshakeFailures.Enabled)
        {
            _handshakeFailures.Add(1, new KeyValuePair<string, object?>("http.response.status_code", statusCode));
        }
    }

    public void MessageReceived(WebSocketMessageKind kind, int payloadLength) =>
        CountMessage(_messagesReceived, _bytesReceived, kind == WebSocketMessageKind.Text, payloadLength);

    public void MessageSent(bool text, int payloadLength) => CountMessage(_messagesSent, _bytesSent, text, payloadLength);

    /// <summary>A broadcast: one message queued on <paramref name="receivers"/> connections.</summary>
    public void MessagesSent(bool text, int payloadLength, int receivers)
    {
        if (receivers > 0 && (_messagesSent.Enabled || _bytesSent.Enabled))
        {
            KeyValuePair<string, object?> type = text ? s_text : s_binary;
            _messagesSent.Add(receivers, type);
            _bytesSent.Add((long)payloadLength * receivers, type);
        }
    }

    public void MessageDropped() => _slowConsumerActions.Add(1, s_dropped);

    public void SlowConsumerClosed() => _slowConsumerActions.Add(1, s_closed);

    public void CloseSent(WebSocketCloseCode code) => CountClose(_closesSent, code);

    public void CloseReceived(WebSocketCloseCode code) => CountClose(_closesReceived, code);

    private static void CountMessage(Counter<long> messages, Counter<long> bytes, bool text, int payloadLength)
    {
        if (messages.Enabled || bytes.Enabled)
        {
            KeyValuePair<string, object?> type = text ? s_text : s_binary;
            messages.Add(1, type);
            bytes.Add(payloadLength, type);
        }
    }

    private static void CountClose(Counter<long> closes, WebSocketCloseCode code)
    {
        // Boxes the code, which is fine once per close; checked first so that nothing is boxed with nobody listening.
        if (closes.Enabled)
        {
            closes.Add(1, new KeyValuePair<string, object?>("websocket.close.code", (int)code));
        }
    }

    private static IEnumerable<Measurement<long>> ObserveRefusals(WebSocketServer server)
    {
        if (server.Limiter is not { } limiter)
        {
            return [];
        }

        return
        [
            new Measurement<long>(limiter.RefusedMaxConnections, s_maxConnections),
            new Measurement<long>(limiter.RefusedMaxConnectionsPerAddress, s_maxPerAddress),
        ];
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            Meter.Dispose();
        }
    }
}
