namespace Tern.Protocol;

/// <summary>How the TCP connection ends after a step of the closing handshake.</summary>
public enum CloseFinish
{
    /// <summary>Nothing yet: keep reading until the peer's close frame arrives (or the close timeout passes).</summary>
    KeepReading,

    /// <summary>
    /// The handshake is complete: send what is queued (the close frame last), half-close, and release the socket
    /// (RFC 6455 §7.1.1: the server closes TCP first).
    /// </summary>
    CloseNow,

    /// <summary>
    /// The peer broke the protocol: send what is queued (the close frame last), half-close, then read and discard its
    /// input until it closes its side or the close timeout passes, so our close frame is not lost to a reset
    /// (RFC 6455 §7.1.7 asks to fail the connection, but a peer that is sent a reset may never see the code).
    /// </summary>
    CloseAfterPeerFinishes,

    /// <summary>The connection is already gone: release it.</summary>
    Drop,
}

/// <summary>
/// What the connection must do after an event of the closing handshake: send a close frame (with this code and
/// reason) or not, and how to end the TCP connection.
/// </summary>
/// <param name="SendCloseFrame">Whether to queue a close frame now (it is then the last frame sent).</param>
/// <param name="Code">The code the close frame carries; <see cref="WebSocketCloseCode.NoStatusReceived"/> means a close
/// frame with an empty payload (1005 itself is never sent, RFC 6455 §7.4.1).</param>
/// <param name="Reason">The reason the close frame carries, or null.</param>
/// <param name="Finish">How to end the TCP connection.</param>
public readonly record struct CloseStep(bool SendCloseFrame, WebSocketCloseCode Code, string? Reason, CloseFinish Finish)
{
    /// <summary>Nothing to send, nothing to finish.</summary>
    public static CloseStep None => default;
}

/// <summary>
/// The closing handshake of RFC 6455 §5.5.1 and §7, with no I/O: the connection reports what happened (it asked to
/// close, the peer's close frame arrived, the peer broke the protocol, the stream ended, the connection was dropped)
/// and gets back the <see cref="CloseStep"/> to take, while this keeps the <see cref="State"/> and the first
/// <see cref="CloseInfo"/>. Rules kept here: at most one close frame is ever sent; a peer's close is echoed with its
/// code (an empty close with an empty one) unless ours went first; no data frame is sent after a close frame, and no
/// data message is delivered once ours is sent; the first reason the connection ended is the one reported.
/// </summary>
/// <remarks>Not thread-safe: the connection calls it under its send lock, so that no data frame can follow a close frame.</remarks>
public sealed class ClosingHandshake
{
    /// <summary>The reason recorded when the stream ends without a close frame.</summary>
    public const string DroppedReason = "The connection was dropped without a close frame.";

    /// <summary>Where the closing handshake is.</summary>
    public WebSocketConnectionState State { get; private set; } = WebSocketConnectionState.Open;

    /// <summary>How the connection ended (the first reason recorded), or null while nothing has ended it.</summary>
    public WebSocketCloseInfo? CloseInfo { get; private set; }

    /// <summary>Whether data, ping and pong frames may still be sent: only before any close frame.</summary>
    public bool CanSend => State == WebSocketConnectionState.Open;

    /// <summary>
    /// Whether received data messages are still delivered: only while open. Once this side has sent its close, the
    /// application said it is done, and what the peer sends before its own close frame is read and dropped.
    /// </summary>
    public bool DeliversMessages => State == WebSocketConnectionState.Open;

    /// <summary>
    /// This side starts the closing handshake. Sends a close frame with the code and reason if none was sent yet, then
    /// waits for the peer's close frame. Ignored once closing.
    /// </summary>
    /// <param name="code">The code to send.</param>
    /// <param name="reason">The reason to send.</param>
    /// <param name="recordAsCloseInfo">
    /// Report this code and reason as how the connection ended, whatever the peer answers: for a close the server imposes
    /// (a slow consumer), not for a polite close the peer is expected to echo.
    /// </param>
    public CloseStep Close(WebSocketCloseCode code, string? reason, bool recordAsCloseInfo = false)
    {
        if (State != WebSocketConnectionState.Open)
        {
            return CloseStep.None;
        }

        State = WebSocketConnectionState.CloseSent;
        if (recordAsCloseInfo)
        {
            Record(code, reason ?? "");
        }

        return new CloseStep(SendCloseFrame: true, code, reason, CloseFinish.KeepReading);
    }

    /// <summary>
    /// The peer's close frame arrived (<paramref name="code"/> is 1005 when it had no payload). If this side had not sent
    /// a close, it echoes the peer's code (RFC 6455 §5.5.1) without a reason; either way the handshake is complete and
    /// TCP can close.
    /// </summary>
    public CloseStep PeerClosed(WebSocketCloseCode code, string reason)
    {
        Record(code, reason);
        if (State == WebSocketConnectionState.Closed)
        {
            // Dropped meanwhile (an abort, a keepalive timeout): there is no handshake left to complete.
            return new CloseStep(SendCloseFrame: false, code, Reason: null, CloseFinish.Drop);
        }

        bool echo = State == WebSocketConnectionState.Open;
        State = WebSocketConnectionState.Closed;
        return new CloseStep(echo, code, Reason: null, CloseFinish.CloseNow);
    }

    /// <summary>
    /// The peer broke the protocol (what the decoder reports, or a message the application cannot take). Sends a close
    /// frame with the code and reason unless one was already sent, and ends the connection after the peer closes its
    /// side.
    /// </summary>
    public CloseStep ProtocolError(WebSocketCloseCode code, string reason)
    {
        Record(code, reason);
        if (State == WebSocketConnectionState.Closed)
        {
            return new CloseStep(SendCloseFrame: false, code, reason, CloseFinish.Drop);
        }

        bool send = State == WebSocketConnectionState.Open;
        State = WebSocketConnectionState.Closed;
        return new CloseStep(send, code, reason, CloseFinish.CloseAfterPeerFinishes);
    }

    /// <summary>
    /// The stream ended, or failed, without a close frame (1006). Returns whether this ended an open or closing connection
    /// (and is worth a log line), rather than one already closed.
    /// </summary>
    public bool StreamEnded()
    {
        bool wasOpen = State != WebSocketConnectionState.Closed;
        State = WebSocketConnectionState.Closed;
        Record(WebSocketCloseCode.AbnormalClosure, DroppedReason);
        return wasOpen;
    }

    /// <summary>The connection is dropped without a closing handshake (an abort, a keepalive timeout) for this reason.</summary>
    public void Dropped(string reason)
    {
        State = WebSocketConnectionState.Closed;
        Record(WebSocketCloseCode.AbnormalClosure, reason);
    }

    private void Record(WebSocketCloseCode code, string reason) => CloseInfo ??= new WebSocketCloseInfo(code, reason);
}
