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
}
