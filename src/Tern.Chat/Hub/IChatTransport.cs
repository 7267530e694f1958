namespace Tern.Chat.Hub;

/// <summary>A connected client, as the hub sees it.</summary>
public interface IChatClient
{
    /// <summary>Unique among the clients connected to the hub.</summary>
    long Id { get; }
}

/// <summary>How the hub reaches its clients (WebSocket connections in the app; recorders in tests).</summary>
public interface IChatTransport
{
    /// <summary>
    /// Queues one text message for each client. Must not wait for a slow client (the hub calls it while it keeps a
    /// room's order): a client that cannot keep up is disconnected instead. Clients already gone are skipped.
    /// </summary>
    ValueTask SendAsync(string json, IReadOnlyList<IChatClient> clients);
}
