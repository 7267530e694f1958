using Tern.Chat.Hub;

namespace Tern.Chat;

/// <summary>A WebSocket connection as a hub client.</summary>
internal sealed class WebSocketChatClient(WebSocketConnection connection) : IChatClient
{
    public WebSocketConnection Connection { get; } = connection;

    public long Id => Connection.Id;
}

/// <summary>
/// Delivers hub messages with the server's broadcast, which encodes a frame once for all recipients and never waits:
/// a connection whose send queue is full is closed (1008) rather than allowed to stall a room.
/// </summary>
internal sealed class WebSocketChatTransport(WebSocketServer server) : IChatTransport
{
    public ValueTask SendAsync(string json, IReadOnlyList<IChatClient> clients) =>
        clients.Count == 0
            ? ValueTask.CompletedTask
            : server.BroadcastTextAsync(json, clients.Select(client => ((WebSocketChatClient)client).Connection));

    public ValueTask CloseAsync(IChatClient client, int closeCode, string reason)
    {
        // Starting the closing handshake is enough: the connection's reader ends when the client answers (or the close
        // timeout passes), and the hub hears of it through DisconnectAsync then. Waiting here would hold up the hub.
        _ = CloseQuietlyAsync(((WebSocketChatClient)client).Connection, (WebSocketCloseCode)closeCode, reason);
        return ValueTask.CompletedTask;
    }

    private static async Task CloseQuietlyAsync(WebSocketConnection connection, WebSocketCloseCode code, string reason)
    {
        try
        {
            await connection.CloseAsync(code, reason).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketClosedException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // Gone already, or went while closing: either way the socket is closed, which is all that was asked.
        }
    }
}
