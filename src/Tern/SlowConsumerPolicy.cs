namespace Tern;

/// <summary>
/// What happens to a send when the connection's send queue already holds more than
/// <see cref="WebSocketServerOptions.MaxSendQueueSize"/> bytes: the peer is not reading as fast as it is sent to.
/// </summary>
public enum SlowConsumerPolicy
{
    /// <summary>
    /// The send is queued and waits until the queue drains below the limit (backpressure for the sender). A broadcast
    /// never waits: under this policy it closes the connection, as <see cref="Close"/> does.
    /// </summary>
    Wait,

    /// <summary>The message is not queued for that connection: the send returns at once and the drop is counted.</summary>
    Drop,

    /// <summary>
    /// The connection is closed: the backlog is discarded (but for a frame already partly sent), a close frame with 1008
    /// Policy Violation goes out in its place so the peer learns why, and TCP closes after it (within
    /// <see cref="WebSocketServerOptions.CloseTimeout"/>). The send throws <see cref="WebSocketClosedException"/>.
    /// </summary>
    Close,
}
