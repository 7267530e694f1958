namespace Tern;

/// <summary>Thrown by a send on a connection that is closing or closed.</summary>
public sealed class WebSocketClosedException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public WebSocketClosedException()
        : base("The WebSocket connection is closing or closed; nothing more can be sent.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public WebSocketClosedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public WebSocketClosedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
