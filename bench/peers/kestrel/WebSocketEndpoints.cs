using System.Net.WebSockets;

namespace Tern.Bench.Kestrel;

/// <summary>The two endpoints: echo and broadcast.</summary>
internal static class WebSocketEndpoints
{
    public static async Task EchoAsync(HttpContext context, WebSocketAcceptContext acceptContext)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync(acceptContext);
        using var message = new MessageBuffer();
        try
        {
            while (await message.ReceiveAsync(socket, CancellationToken.None) is { } type)
            {
                await socket.SendAsync(message.Payload, type, endOfMessage: true, CancellationToken.None);
            }

            await AnswerCloseAsync(socket);
        }
        catch (WebSocketException)
        {
            // The client went away without a close handshake.
        }
        catch (MessageTooBigException)
        {
            await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, null, CancellationToken.None);
        }
    }

    public static async Task BroadcastAsync(HttpContext context, BroadcastHub hub, WebSocketAcceptContext acceptContext)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync(acceptContext);
        var member = new BroadcastMember(socket);
        hub.Join(member);
        var sending = member.SendQueuedAsync();
        var tooBig = false;
        using (var message = new MessageBuffer())
        {
            try
            {
                while (await message.ReceiveAsync(socket, CancellationToken.None) is { } type)
                {
                    // One copy of the payload, shared by every member's queue.
                    hub.Publish(message.Payload.ToArray(), type);
                }
            }
            catch (WebSocketException)
            {
                // The client went away without a close handshake.
            }
            catch (MessageTooBigException)
            {
                tooBig = true;
            }
            finally
            {
                hub.Leave(member);
                member.Complete();
            }
        }

        // The close frame goes out after everything already queued, never concurrently with a send.
        await sending;
        try
        {
            if (tooBig)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, null, CancellationToken.None);
            }
            else
            {
                await AnswerCloseAsync(socket);
            }
        }
        catch (WebSocketException)
        {
            // Already gone.
        }
    }

    private static Task AnswerCloseAsync(WebSocket socket) =>
        socket.State == WebSocketState.CloseReceived
            ? socket.CloseOutputAsync(socket.CloseStatus ?? WebSocketCloseStatus.NormalClosure,
                socket.CloseStatusDescription, CancellationToken.None)
            : Task.CompletedTask;
}
