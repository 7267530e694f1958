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
    /// conversation's order): a client that cannot keep up is disconnected instead. Clients already gone are skipped.
    /// </summary>
    ValueTask SendAsync(string json, IReadOnlyList<IChatClient> clients);

    /// <summary>
    /// Starts closing a client's connection with a WebSocket close code and reason (the hub uses
    /// <see cref="ChatHub.SignedOutCloseCode"/> when an account signs out everywhere). Must not wait for the client's
    /// answer. The hub still gets its <see cref="ChatHub.DisconnectAsync"/> when the connection ends.
    /// </summary>
    /// <remarks>
    /// The default implementation throws <see cref="NotSupportedException"/> so that a transport which cannot close
    /// is noticed (the hub logs it) rather than silently leaving a signed-out socket open.
    /// </remarks>
    ValueTask CloseAsync(IChatClient client, int closeCode, string reason) =>
        throw new NotSupportedException($"{GetType().Name} cannot close connections; implement {nameof(IChatTransport)}.{nameof(CloseAsync)}.");
}
