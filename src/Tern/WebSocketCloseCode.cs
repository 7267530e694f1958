namespace Tern;

/// <summary>
/// Status codes carried by a WebSocket close frame (RFC 6455 §7.4). Application codes 3000–4999 can be used by
/// casting: <c>(WebSocketCloseCode)4000</c>.
/// </summary>
public enum WebSocketCloseCode : ushort
{
    /// <summary>1000: the purpose of the connection has been fulfilled.</summary>
    NormalClosure = 1000,
    /// <summary>1001: the endpoint is going away (server shutting down, browser leaving the page).</summary>
    GoingAway = 1001,
    /// <summary>1002: the peer broke the protocol.</summary>
    ProtocolError = 1002,
    /// <summary>1003: the endpoint received a data type it cannot accept.</summary>
    UnsupportedData = 1003,
    /// <summary>1005: no status code was present in the close frame. Never sent on the wire.</summary>
    NoStatusReceived = 1005,
    /// <summary>1006: the connection was dropped without a close frame. Never sent on the wire.</summary>
    AbnormalClosure = 1006,
    /// <summary>1007: a text message was not valid UTF-8, or the data contradicted the message type.</summary>
    InvalidPayloadData = 1007,
    /// <summary>1008: a message violated the endpoint's policy.</summary>
    PolicyViolation = 1008,
    /// <summary>1009: a message was larger than the endpoint accepts.</summary>
    MessageTooBig = 1009,
    /// <summary>1010: the client expected an extension that the server did not negotiate.</summary>
    MandatoryExtension = 1010,
    /// <summary>1011: the server met an unexpected condition.</summary>
    InternalServerError = 1011,
    /// <summary>1012: the server is restarting; the client may reconnect (IANA registry).</summary>
    ServiceRestart = 1012,
    /// <summary>1013: the server is overloaded for now (for example, its budget for buffered messages is spent); try again later (IANA registry).</summary>
    TryAgainLater = 1013,
    /// <summary>1014: a gateway or proxy got an invalid response from the server behind it (IANA registry).</summary>
    BadGateway = 1014,
}

/// <summary>How a connection ended: the close code and reason, and who started the closing.</summary>
/// <param name="Code">The close code received from the peer (or sent, when the peer sent none).</param>
/// <param name="Reason">The close reason, possibly empty.</param>
public sealed record WebSocketCloseInfo(WebSocketCloseCode Code, string Reason);
