using System.Net.WebSockets;

namespace Tern.Tests.TestSupport;

internal static class ClientWebSocketClosing
{
    /// <summary>
    /// Reads like an application would, discarding messages, until the server's close arrives; answers it and returns
    /// its code, or null when the connection broke without one (or nothing came within <paramref name="timeoutSeconds"/>).
    /// </summary>
    public static async Task<WebSocketCloseStatus?> ReadUntilCloseAsync(this ClientWebSocket client, int timeoutSeconds = 30)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
            while (true)
            {
                WebSocketReceiveResult result = await client.ReceiveAsync(buffer, timeout.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    if (client.State == WebSocketState.CloseReceived)
                    {
                        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
                    }

                    return result.CloseStatus;
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException)
        {
            return null;
        }
    }
}
