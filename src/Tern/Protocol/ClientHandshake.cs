using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tern.Protocol;

/// <summary>The server's answer to a client handshake, once it is known to accept the connection.</summary>
public sealed class ClientHandshakeResult
{
    internal ClientHandshakeResult(HttpHeaderCollection headers, string? subprotocol, string? extensions = null, PerMessageDeflateParameters? deflate = null)
    {
        Headers = headers;
        Subprotocol = subprotocol;
        Extensions = extensions;
        Deflate = deflate;
    }

    /// <summary>The 101 response's headers.</summary>
    public HttpHeaderCollection Headers { get; }

    /// <summary>The subprotocol the server confirmed, or null.</summary>
    public string? Subprotocol { get; }

    /// <summary>The server's <c>Sec-WebSocket-Extensions</c> answer, or null.</summary>
    public string? Extensions { get; }

    /// <summary>The permessage-deflate parameters in effect, or null when the server declined (or none was offered).</summary>
    public PerMessageDeflateParameters? Deflate { get; }
}

/// <summary>
/// The client side of the RFC 6455 opening handshake, without I/O: writing the upgrade request and checking the
/// server's response.
/// </summary>
public static class ClientHandshake
{
    private const int MaxResponseHeadBytes = 16 * 1024;

    /// <summary>A fresh <c>Sec-WebSocket-Key</c>: 16 random bytes, base64-encoded.</summary>
    public static string CreateKey()
    {
        Span<byte> key = stackalloc byte[16];
        RandomNumberGenerator.Fill(key);
        return Convert.ToBase64String(key);
    }

    /// <summary>The request head a client sends for <paramref name="uri"/>, as fields (used to describe the request to the application too).</summary>
    public static List<KeyValuePair<string, string>> CreateRequestHeaders(Uri uri, string key, IEnumerable<string> subprotocols, IEnumerable<KeyValuePair<string, string>> extraHeaders)
    {
        ArgumentNullException.ThrowIfNull(uri);
        bool defaultPort = uri.IsDefaultPort;
        string host = uri.HostNameType == UriHostNameType.IPv6 ? $"[{uri.IdnHost}]" : uri.IdnHost;
        var headers = new List<KeyValuePair<string, string>>
        {
            new("Host", defaultPort ? host : host + ":" + uri.Port.ToString(CultureInfo.InvariantCulture)),
            new("Upgrade", "websocket"),
            new("Connection", "Upgrade"),
            new("Sec-WebSocket-Key", key),
            new("Sec-WebSocket-Version", Handshake.SupportedVersion),
        };
        string offered = string.Join(", ", subprotocols);
        if (offered.Length > 0)
        {
            headers.Add(new("Sec-WebSocket-Protocol", offered));
        }

        foreach (KeyValuePair<string, string> header in extraHeaders)
        {
            if (!HttpSyntax.IsToken(header.Key) || !HttpSyntax.IsFieldValue(header.Value))
            {
                throw new ArgumentException($"Invalid request header '{header.Key}'.", nameof(extraHeaders));
            }

            headers.Add(header);
        }

        return headers;
    }

    /// <summary>Writes <c>GET target HTTP/1.1</c>, the fields and the blank line.</summary>
    public static void WriteRequest(IBufferWriter<byte> output, string target, IEnumerable<KeyValuePair<string, string>> headers)
    {
        var head = new StringBuilder(256);
        head.Append("GET ").Append(target).Append(" HTTP/1.1\r\n");
        foreach (KeyValuePair<string, string> header in headers)
        {
            head.Append(header.Key).Append(": ").Append(header.Value).Append("\r\n");
        }

        head.Append("\r\n");
        string text = head.ToString();
        int written = Encoding.Latin1.GetBytes(text, output.GetSpan(Encoding.Latin1.GetByteCount(text)));
        output.Advance(written);
    }

    /// <summary>
    /// Reads the server's response head from <paramref name="buffer"/>. Returns <see cref="HttpParseStatus.NeedMoreData"/>
    /// until the head is complete; then <see cref="HttpParseStatus.Complete"/> with the result when the server accepted
    /// (status 101, the right <c>Sec-WebSocket-Accept</c>, a subprotocol that was offered, no extension but a valid answer
    /// to the permessage-deflate offer made from <paramref name="offeredCompression"/>), or
    /// <see cref="HttpParseStatus.Invalid"/> with a readable <paramref name="error"/>. <paramref name="consumed"/> is
    /// the position after the head: WebSocket frames may follow in the same buffer.
    /// </summary>
    public static HttpParseStatus TryReadResponse(in ReadOnlySequence<byte> buffer, string key, IReadOnlyCollection<string> offeredSubprotocols,
        out SequencePosition consumed, out ClientHandshakeResult? result, out string? error, WebSocketCompressionOptions? offeredCompression = null)
    {
        result = null;
        error = null;
        consumed = buffer.Start;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> headBytes, "\r\n\r\n"u8, advancePastDelimiter: true))
        {
            if (buffer.Length > MaxResponseHeadBytes)
            {
                error = "The server's response head is too large.";
                return HttpParseStatus.Invalid;
            }

            return HttpParseStatus.NeedMoreData;
        }

        consumed = reader.Position;
        string head = Encoding.Latin1.GetString(headBytes);
        string[] lines = head.Split("\r\n");
        string[] status = lines[0].Split(' ', 3);
        if (status.Length < 2 || !status[0].StartsWith("HTTP/1.", StringComparison.Ordinal) || !int.TryParse(status[1], NumberStyles.None, CultureInfo.InvariantCulture, out int code))
        {
            error = $"The server's response is not HTTP: '{Truncate(lines[0])}'.";
            return HttpParseStatus.Invalid;
        }

        var fields = new List<KeyValuePair<string, string>>(lines.Length);
        foreach (string line in lines.AsSpan(1))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !HttpSyntax.IsToken(line.AsSpan(0, colon)))
            {
                error = $"The server sent a malformed header line: '{Truncate(line)}'.";
                return HttpParseStatus.Invalid;
            }

            fields.Add(new(line[..colon], line[(colon + 1)..].Trim(' ', '\t')));
        }

        var headers = new HttpHeaderCollection(fields);
        if (code != 101)
        {
            error = $"The server refused the WebSocket handshake: {code} {(status.Length > 2 ? status[2] : "")}".TrimEnd();
            return HttpParseStatus.Invalid;
        }

        if (!headers.ContainsToken("Upgrade", "websocket") || !headers.ContainsToken("Connection", "upgrade"))
        {
            error = "The server's 101 response lacks Upgrade: websocket or Connection: Upgrade.";
            return HttpParseStatus.Invalid;
        }

        if (headers["Sec-WebSocket-Accept"] != Handshake.ComputeAccept(key))
        {
            error = "The server's Sec-WebSocket-Accept does not match the key sent.";
            return HttpParseStatus.Invalid;
        }

        string? subprotocol = headers["Sec-WebSocket-Protocol"];
        if (subprotocol is not null && !offeredSubprotocols.Contains(subprotocol, StringComparer.Ordinal))
        {
            error = $"The server chose subprotocol '{subprotocol}', which was not offered.";
            return HttpParseStatus.Invalid;
        }

        string? extensions = headers["Sec-WebSocket-Extensions"];
        if (!ExtensionNegotiation.TryAcceptResponse(extensions, offeredCompression, out PerMessageDeflateParameters? deflate, out error))
        {
            return HttpParseStatus.Invalid;
        }

        result = new ClientHandshakeResult(headers, subprotocol, deflate is null ? null : extensions, deflate);
        return HttpParseStatus.Complete;
    }

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
