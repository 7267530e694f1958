using System.Collections.ObjectModel;

namespace Tern.Protocol;

/// <summary>
/// An HTTP error response that ends a connection instead of upgrading it: a status code, a short reason sent as a
/// plain-text body, and any extra header fields (for example <c>Allow</c> or <c>Sec-WebSocket-Version</c>).
/// Written by <see cref="Handshake.WriteRefusal"/>. Immutable.
/// </summary>
public sealed class HandshakeRefusal
{
    /// <summary>Creates a refusal.</summary>
    /// <param name="statusCode">An HTTP status code from 200 to 599.</param>
    /// <param name="reason">Short human-readable text, sent as the response body.</param>
    /// <param name="headers">
    /// Extra header fields. <c>Content-Length</c>, <c>Transfer-Encoding</c> and <c>Connection</c> are refused because
    /// the response writer sets them; a <c>Content-Type</c> here replaces the default plain-text one.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="statusCode"/> is outside 200–599.</exception>
    /// <exception cref="ArgumentException">A header name is not a token, a value holds control characters, or a
    /// name is one the writer sets itself.</exception>
    public HandshakeRefusal(int statusCode, string reason, IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 200);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        ArgumentNullException.ThrowIfNull(reason);
        StatusCode = statusCode;
        Reason = reason;
        if (headers is null || headers.Count == 0)
        {
            Headers = ReadOnlyCollection<KeyValuePair<string, string>>.Empty;
            return;
        }

        var copy = new KeyValuePair<string, string>[headers.Count];
        for (int i = 0; i < copy.Length; i++)
        {
            var (name, value) = headers[i];
            if (name is null || !HttpSyntax.IsToken(name))
            {
                throw new ArgumentException($"Header name '{name}' is not a valid token.", nameof(headers));
            }

            if (value is null || !HttpSyntax.IsFieldValue(value))
            {
                throw new ArgumentException($"The value of header '{name}' is missing or holds control characters.",
                    nameof(headers));
            }

            if (IsWriterOwned(name))
            {
                throw new ArgumentException($"Header '{name}' is set by the response writer.", nameof(headers));
            }

            copy[i] = headers[i];
        }

        Headers = Array.AsReadOnly(copy);
    }

    /// <summary>The HTTP status code.</summary>
    public int StatusCode { get; }

    /// <summary>Short human-readable text, sent as the plain-text body.</summary>
    public string Reason { get; }

    /// <summary>Extra header fields to send, in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{StatusCode} {Handshake.ReasonPhrase(StatusCode)}: {Reason}";

    private static bool IsWriterOwned(string name) =>
        name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Connection", StringComparison.OrdinalIgnoreCase);
}
