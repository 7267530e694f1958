namespace Tern;

/// <summary>
/// Callback-style handling of a connection, for code coming from Fleck or websocket-sharp: set the callbacks and pass
/// the handler to <see cref="WebSocketServer.Map(string, WebSocketHandler)"/>. One handler instance serves every
/// connection on its path. For each connection the callbacks run one at a time, in order: <see cref="OnOpen"/>, then
/// <see cref="OnMessage"/> per message, then <see cref="OnClose"/> exactly once.
/// </summary>
public sealed class WebSocketHandler
{
    /// <summary>Called once the handshake is done.</summary>
    public Func<WebSocketConnection, Task>? OnOpen { get; set; }

    /// <summary>Called for each complete message. The message data is valid only until the returned task completes.</summary>
    public Func<WebSocketConnection, WebSocketMessage, Task>? OnMessage { get; set; }

    /// <summary>Called once when the connection has closed, with how it closed.</summary>
    public Func<WebSocketConnection, WebSocketCloseInfo, Task>? OnClose { get; set; }

    /// <summary>Called when a callback throws; the connection is then closed with 1011.</summary>
    public Func<WebSocketConnection, Exception, Task>? OnError { get; set; }
}
