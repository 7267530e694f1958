namespace Tern;

/// <summary>Where a connection is in the WebSocket closing handshake.</summary>
public enum WebSocketConnectionState
{
    /// <summary>The handshake is done and messages flow both ways.</summary>
    Open,
    /// <summary>This side sent a close frame and waits for the peer's.</summary>
    CloseSent,
    /// <summary>The peer sent a close frame; this side is answering it.</summary>
    CloseReceived,
    /// <summary>The connection is closed (cleanly or not); sends fail.</summary>
    Closed,
}
