using System.Net;
using System.Text;
using Tern.Protocol;

namespace Tern.Http;

/// <summary>
/// A plain HTTP request (not a WebSocket upgrade) handed to <see cref="WebSocketServerOptions.HttpHandler"/>.
/// The handler answers it once with <see cref="RespondAsync"/>; a request left unanswered gets 404. The connection is
/// closed after the response (Connection: close).
/// </summary>
public sealed class HttpRequestContext
{
    private readonly Func<HttpResponse, CancellationToken, ValueTask> _send;

    internal HttpRequestContext(HttpRequestHead request, ReadOnlyMemory<byte> body, IPEndPoint remoteEndPoint,
        Func<HttpResponse, CancellationToken, ValueTask> send)
    {
        Request = request;
        Body = body;
        RemoteEndPoint = remoteEndPoint;
        _send = send;
    }

    /// <summary>The request line and headers.</summary>
    public HttpRequestHead Request { get; }

    /// <summary>
    /// The request's body, read whole before the handler is called; empty when the request has none. Only
    /// <c>Content-Length</c> bodies up to <see cref="WebSocketServerOptions.MaxRequestBodySize"/> reach a handler. The
    /// body of a GET or HEAD request is read and dropped (RFC 9110 gives it no meaning), so it is always empty there.
    /// The memory is the handler's to keep.
    /// </summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>
    /// The body decoded as UTF-8 whatever the <c>Content-Type</c> says, invalid bytes becoming U+FFFD. To parse JSON,
    /// prefer <c>JsonSerializer.Deserialize&lt;T&gt;(context.Body.Span)</c>, which reads the bytes and rejects
    /// invalid UTF-8.
    /// </summary>
    public string GetBodyText() => Encoding.UTF8.GetString(Body.Span);

    /// <summary>The client's address.</summary>
    public IPEndPoint RemoteEndPoint { get; }

    /// <summary>True once a response has been sent.</summary>
    public bool HasResponded { get; private set; }

    /// <summary>
    /// Sends the response. Content-Length is set from the body unless the response's headers already carry one; for a
    /// HEAD request the body is not sent, so pass the same body as for GET and the length comes out right.
    /// </summary>
    /// <exception cref="InvalidOperationException">A response was already sent.</exception>
    /// <exception cref="ArgumentException">A header name is not a token or a value contains control characters.</exception>
    public ValueTask RespondAsync(HttpResponse response, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (HasResponded)
        {
            throw new InvalidOperationException("This request has already been answered.");
        }

        // Marked only once the response is accepted: one with invalid headers throws and can still be replaced by a 500.
        ValueTask sending = _send(response, cancellationToken);
        HasResponded = true;
        return sending;
    }
}

/// <summary>An HTTP response for <see cref="HttpRequestContext.RespondAsync"/>.</summary>
public sealed class HttpResponse
{
    private const string JsonContentType = "application/json";

    /// <summary>Creates a response with a status code and optional body and content type.</summary>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="statusCode"/> is not a final status (200 to 599): a 1xx cannot end a request.
    /// </exception>
    public HttpResponse(int statusCode, ReadOnlyMemory<byte> body = default, string? contentType = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 200);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        StatusCode = statusCode;
        Body = body;
        if (contentType is not null)
        {
            Headers.Add(new("Content-Type", contentType));
        }
    }

    /// <summary>The status code, e.g. 200.</summary>
    public int StatusCode { get; }

    /// <summary>
    /// Response headers, written in order; a name may repeat (one <c>Set-Cookie</c> line per cookie). Content-Length
    /// and Connection are added by the server.
    /// </summary>
    public IList<KeyValuePair<string, string>> Headers { get; } = new List<KeyValuePair<string, string>>();

    /// <summary>The body; not sent for HEAD requests or for 204 and 304 responses.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>A plain-text response, for errors.</summary>
    public static HttpResponse Text(int statusCode, string text) =>
        new(statusCode, Encoding.UTF8.GetBytes(text + "\n"), "text/plain; charset=utf-8");

    /// <summary>
    /// A JSON response (<c>Content-Type: application/json</c>) from JSON already encoded as UTF-8, for example by
    /// <c>JsonSerializer.SerializeToUtf8Bytes</c>. The bytes are sent as they are: they are not checked to be JSON.
    /// </summary>
    public static HttpResponse Json(int statusCode, ReadOnlyMemory<byte> utf8Json) => new(statusCode, utf8Json, JsonContentType);

    /// <summary>A JSON response (<c>Content-Type: application/json</c>) from JSON text, sent as UTF-8.</summary>
    public static HttpResponse Json(int statusCode, string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return Json(statusCode, Encoding.UTF8.GetBytes(json));
    }
}
