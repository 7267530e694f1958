using Tern.Diagnostics;
using Tern.Http;
using Tern.Protocol;
using Tern.Transport;

namespace Tern;

// Plain HTTP requests on the same port: reading the body and handing the request to the HTTP handler.
public sealed partial class WebSocketServer
{
    /// <summary>
    /// Reads a plain request's body and hands the request to the HTTP handler. <paramref name="deadline"/> fires when
    /// the whole request, head and body, has taken longer than the handshake timeout.
    /// </summary>
    private async Task ServeHttpAsync(DuplexConnection io, HttpRequestHead request, CancellationToken deadline)
    {
        if (_options.HttpHandler is not { } httpHandler)
        {
            await RefuseAsync(io, new HandshakeRefusal(426, "This is a WebSocket server: connect with a WebSocket client.",
                [new("Upgrade", "websocket"), new("Sec-WebSocket-Version", "13")]), request).ConfigureAwait(false);
            return;
        }

        HandshakeRefusal? refusal = HttpRequestFraming.GetBodyLength(request, Math.Max(0, _options.MaxRequestBodySize), out long bodyLength);
        bool keepBody = bodyLength > 0 && !HttpRequestFraming.IgnoresBody(request.Method);

        // A body is held whole while its handler runs, so it counts against the same budget as messages being received:
        // a crowd of clients each posting the largest body cannot take more memory than that.
        if (refusal is null && keepBody && !_receiveBudget.TryReserve(bodyLength))
        {
            refusal = new HandshakeRefusal(503, "The server is busy: try again later.", [new("Retry-After", "5")]);
            keepBody = false;
        }

        if (refusal is not null)
        {
            await RefuseAsync(io, refusal, request).ConfigureAwait(false);
            return;
        }

        try
        {
            byte[]? body = keepBody ? GC.AllocateUninitializedArray<byte>((int)bodyLength) : null;
            try
            {
                if (!await HttpRequestBodyReader.ReadAsync(io.Input, bodyLength, body, deadline).ConfigureAwait(false))
                {
                    // The client ended its side in the middle of the body: there is no request to answer.
                    io.Abort();
                    return;
                }
            }
            catch (OperationCanceledException) when (!io.Aborted.IsCancellationRequested)
            {
                await RefuseAsync(io, RequestTimedOut(io.Transport.RemoteEndPoint), request).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException)
            {
                return;
            }

            await HandleHttpAsync(io, request, body, httpHandler).ConfigureAwait(false);
        }
        finally
        {
            if (keepBody)
            {
                _receiveBudget.Release(bodyLength);
            }
        }
    }

    private async Task HandleHttpAsync(DuplexConnection io, HttpRequestHead request, byte[]? body,
        Func<HttpRequestContext, CancellationToken, ValueTask> httpHandler)
    {
        var context = new HttpRequestContext(request, body, io.Transport.RemoteEndPoint, (response, _) =>
        {
            try
            {
                HttpResponseWriter.Write(io.BeginOutput(), response, headOnly: request.Method == "HEAD");
            }
            finally
            {
                io.CommitOutput();
            }

            return ValueTask.CompletedTask;
        });
        try
        {
            await httpHandler(context, io.Aborted).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.HttpHandlerThrew(_logger, e, new PeerText(request.Method), new PeerText(request.Path));
            if (!context.HasResponded)
            {
                await context.RespondAsync(HttpResponse.Text(500, "Internal server error.")).ConfigureAwait(false);
            }
        }

        if (!context.HasResponded)
        {
            await context.RespondAsync(HttpResponse.Text(404, "Not found.")).ConfigureAwait(false);
        }

        Log.HttpRequestServed(_logger, new PeerText(request.Method), new PeerText(request.Path), io.Transport.RemoteEndPoint);
        await FinishHttpAsync(io).ConfigureAwait(false);
    }

    private async Task FinishHttpAsync(DuplexConnection io)
    {
        // Send the response, then wait briefly for the client to close its side so the response is not lost to a reset.
        if (await io.CompleteOutputAsync(_options.CloseTimeout).ConfigureAwait(false))
        {
            await io.DrainInputAsync(_options.CloseTimeout).ConfigureAwait(false);
        }

        io.Abort();
    }
}
