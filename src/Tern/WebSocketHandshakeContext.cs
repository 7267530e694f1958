using System.Net;
using Tern.Protocol;

namespace Tern;

/// <summary>
/// A valid WebSocket upgrade request on its way to acceptance, as seen by <see cref="WebSocketServerOptions.OnHandshake"/>.
/// </summary>
public sealed class WebSocketHandshakeContext
{
    internal WebSocketHandshakeContext(HttpRequestHead request, IPEndPoint remoteEndPoint, IReadOnlyList<string> offeredSubprotocols, string? subprotocol)
    {
        Request = request;
        RemoteEndPoint = remoteEndPoint;
        OfferedSubprotocols = offeredSubprotocols;
        Subprotocol = subprotocol;
    }

    /// <summary>The request line and headers.</summary>
    public HttpRequestHead Request { get; }

    /// <summary>The client's address.</summary>
    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>The request path (raw, without the query).</summary>
    public string Path => Request.Path;

    /// <summary>The decoded query parameters.</summary>
    public IReadOnlyDictionary<string, string> Query => Request.Query;

    /// <summary>The request cookies.</summary>
    public IReadOnlyDictionary<string, string> Cookies => Request.Cookies;

    /// <summary>The Origin header, when the client sent one (browsers always do).</summary>
    public string? Origin => Request.Headers["Origin"];

    /// <summary>The subprotocols the client offered, in its order.</summary>
    public IReadOnlyList<string> OfferedSubprotocols { get; }

    /// <summary>
    /// The subprotocol the server will confirm; preset from <see cref="WebSocketServerOptions.Subprotocols"/>. Set it
    /// to one of <see cref="OfferedSubprotocols"/> or to null (RFC 6455 forbids confirming one the client did not offer).
    /// </summary>
    public string? Subprotocol { get; set; }

    /// <summary>Data to carry over to <see cref="WebSocketConnection.Items"/> (for example, the authenticated user).</summary>
    public IDictionary<string, object?> Items { get; } = new Dictionary<string, object?>();

    /// <summary>Extra headers for the 101 response (for example, Set-Cookie).</summary>
    public IList<KeyValuePair<string, string>> ResponseHeaders { get; } = new List<KeyValuePair<string, string>>();

    internal HandshakeRefusal? Refusal { get; private set; }

    /// <summary>Refuses the connection with an HTTP status (typically 401 or 403) and a short plain-text reason.</summary>
    public void Reject(int statusCode, string reason)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 400);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        Refusal = new HandshakeRefusal(statusCode, reason);
    }
}
