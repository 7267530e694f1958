using System.Net;
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

    internal HttpRequestContext(HttpRequestHead request, IPEndPoint remoteEndPoint, Func<HttpResponse, CancellationToken, ValueTask> send)
    {
        Request = request;
        RemoteEndPoint = remoteEndPoint;
        _send = send;
    }

    /// <summary>The request line and headers.</summary>
    public HttpRequestHead Request { get; }

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
    /// <summary>Creates a response with a status code and optional body and content type.</summary>
    public HttpResponse(int statusCode, ReadOnlyMemory<byte> body = default, string? contentType = null)
    {
        StatusCode = statusCode;
        Body = body;
        if (contentType is not null)
        {
            Headers.Add(new("Content-Type", contentType));
        }
    }

    /// <summary>The status code, e.g. 200.</summary>
    public int StatusCode { get; }

    /// <summary>Response headers (Content-Length and Connection are added by the server).</summary>
    public IList<KeyValuePair<string, string>> Headers { get; } = new List<KeyValuePair<string, string>>();

    /// <summary>The body; not sent for HEAD requests or for 204 and 304 responses.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>A plain-text response, for errors.</summary>
    public static HttpResponse Text(int statusCode, string text) =>
        new(statusCode, System.Text.Encoding.UTF8.GetBytes(text + "\n"), "text/plain; charset=utf-8");
}
