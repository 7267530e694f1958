using System.IO.Pipelines;
using System.Net;
using Tern.Diagnostics;
using Tern.Protocol;
using Tern.Transport;

namespace Tern;

// The opening handshake: reading the request head, validating it, answering 101 or refusing with a status.
public sealed partial class WebSocketServer
{
    /// <summary>Reads the request and answers it: a 101 and a connection, or a complete HTTP response and nothing.</summary>
    private async Task<(WebSocketConnection?, Func<WebSocketConnection, CancellationToken, Task>?)> HandshakeAsync(DuplexConnection io, long startedTicks)
    {
        IPEndPoint remote = io.Transport.RemoteEndPoint;
        HttpRequestHead? request = null;
        HandshakeRefusal? refusal = null;
        var parser = new HttpRequestParser(_options.MaxRequestHeadSize, _options.MaxRequestHeaderCount);
        // Not linked to io.Aborted (an abort already wakes the reads): a registration on the connection's token would
        // leave its bookkeeping allocated there for the connection's whole life. It lives until the request is answered,
        // because a plain HTTP request's body must arrive within the same deadline as its head.
        // What the TLS handshake left of HandshakeTimeout (all of it on plain ws).
        TimeSpan elapsed = TimeSpan.FromMilliseconds(Environment.TickCount64 - startedTicks);
        using var timeout = new CancellationTokenSource(elapsed < _options.HandshakeTimeout ? _options.HandshakeTimeout - elapsed : TimeSpan.Zero);
        try
        {
            while (request is null && refusal is null)
            {
                ReadResult result = await io.Input.ReadAsync(timeout.Token).ConfigureAwait(false);
                HttpParseStatus status = parser.TryParse(result.Buffer, out SequencePosition consumed, out request, out refusal);
                if (status == HttpParseStatus.NeedMoreData)
                {
                    io.Input.AdvanceTo(consumed, result.Buffer.End);
                    if (result.IsCompleted || result.IsCanceled)
                    {
                        io.Abort();
                        return default;
                    }
                }
                else
                {
                    io.Input.AdvanceTo(consumed);
                }
            }
        }
        catch (OperationCanceledException) when (!io.Aborted.IsCancellationRequested)
        {
            refusal = RequestTimedOut(remote);
        }
        catch (OperationCanceledException)
        {
            return default;
        }

        if (refusal is not null)
        {
            await RefuseAsync(io, refusal, request).ConfigureAwait(false);
            return default;
        }

        HttpRequestHead head = request!;
        if (!Handshake.IsUpgradeRequest(head))
        {
            await ServeHttpAsync(io, head, timeout.Token).ConfigureAwait(false);
            return default;
        }

        refusal = Handshake.Validate(head);
        Func<WebSocketConnection, CancellationToken, Task>? handler = null;
        if (refusal is null && !_routes.TryGetValue(head.Path, out handler))
        {
            handler = _fallback;
            if (handler is null)
            {
                refusal = new HandshakeRefusal(404, $"No WebSocket endpoint at {head.Path}.");
            }
        }

        refusal ??= Handshake.CheckOrigin(head, _options.AllowedOrigins);


        WebSocketHandshakeContext? context = null;
        if (refusal is null)
        {
            IReadOnlyList<string> offered = Handshake.GetOfferedSubprotocols(head);
            context = new WebSocketHandshakeContext(head, remote, offered, Handshake.SelectSubprotocol(offered, _options.Subprotocols));
            if (_options.OnHandshake is { } hook)
            {
                try
                {
                    await hook(context, io.Aborted).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Log.HandshakeHookThrew(_logger, e, remote);
                    context.Reject(500, "The server could not check this head.");
                }

                if (context.Subprotocol is { } picked && !offered.Contains(picked, StringComparer.Ordinal))
                {
                    Log.HookChoseUnofferedSubprotocol(_logger, remote, new PeerText(picked));
                    context.Reject(500, "The server chose a subprotocol the client did not offer.");
                }
            }

            refusal = context.Refusal;
        }

        if (refusal is not null)
        {
            await RefuseAsync(io, refusal, head).ConfigureAwait(false);
            return default;
        }

        string? extensions = null;
        PerMessageDeflateParameters? deflate = _options.Compression is { } compression
            ? ExtensionNegotiation.Negotiate(head.Headers["Sec-WebSocket-Extensions"], compression, out extensions)
            : null;
        try
        {
            Handshake.WriteAccept(io.BeginOutput(), head.Headers["Sec-WebSocket-Key"]!, context!.Subprotocol, extensions, context.ResponseHeaders);
        }
        catch (ArgumentException e)
        {
            io.CommitOutput();
            // A hook added a header a 101 cannot carry; WriteAccept wrote nothing.
            Log.HookInvalidResponseHeaders(_logger, e, remote);
            await RefuseAsync(io, new HandshakeRefusal(500, "The server produced an invalid handshake response."), head).ConfigureAwait(false);
            return default;
        }

        io.CommitOutput();
        var connection = new WebSocketConnection(io, head, context.Subprotocol, isClient: false, _connectionSettings, deflate, extensions);
        foreach (KeyValuePair<string, object?> item in context.Items)
        {
            connection.Items[item.Key] = item.Value;
        }

        return (connection, handler);
    }

    private async Task RefuseAsync(DuplexConnection io, HandshakeRefusal refusal, HttpRequestHead? request)
    {
        Log.HandshakeRefused(_logger, _connectionSettings.LogThrottles.Refusals, request?.Method, request?.Path, io.Transport.RemoteEndPoint, refusal.StatusCode, refusal.Reason);
        _metrics.HandshakeFailed(refusal.StatusCode);
        Handshake.WriteRefusal(io.BeginOutput(), refusal);
        io.CommitOutput();
        await FinishHttpAsync(io).ConfigureAwait(false);
    }

    private HandshakeRefusal RequestTimedOut(IPEndPoint remote)
    {
        Log.HandshakeTimeout(_logger, _connectionSettings.LogThrottles.HandshakeTimeouts, remote, _options.HandshakeTimeout);
        return new HandshakeRefusal(408, "The request did not arrive in time.");
    }
}
