using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tern.Protocol;

/// <summary>
/// The server side of the RFC 6455 opening handshake, without I/O: recognising and validating an upgrade request,
/// and writing the 101 response that accepts it or the HTTP error response that refuses it.
/// </summary>
/// <remarks>
/// Typical use: parse the head with <see cref="HttpRequestParser"/>; if <see cref="IsUpgradeRequest"/> is false,
/// treat it as a plain HTTP request; otherwise call <see cref="Validate"/>, and write either
/// <see cref="WriteRefusal"/> (then close) or <see cref="WriteAccept"/> (then speak WebSocket frames).
/// </remarks>
public static class Handshake
{
    /// <summary>The GUID RFC 6455 §1.3 appends to the client's key before hashing.</summary>
    public const string Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    /// <summary>The only protocol version this server speaks (RFC 6455 §4.1).</summary>
    public const string SupportedVersion = "13";

    // base64 of a 20-byte SHA-1 hash.
    private const int AcceptLength = 28;

    private const int StackHashInputLimit = 256;

    private static ReadOnlySpan<byte> GuidBytes => "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8;

    private static readonly SearchValues<char> Base64Alphabet =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");

    private static readonly HandshakeRefusal MethodNotAllowed =
        new(405, "A WebSocket handshake must use GET.", [new("Allow", "GET")]);

    private static readonly HandshakeRefusal MalformedVersion = new(400, "Malformed HTTP version.");

    private static readonly HandshakeRefusal HttpVersionNotSupported = new(505, "Only HTTP/1.x is supported.");

    private static readonly HandshakeRefusal HttpVersionTooOld = new(400, "A WebSocket handshake needs HTTP/1.1.");

    private static readonly HandshakeRefusal HostMissing = new(400, "The Host header is missing or repeated.");

    private static readonly HandshakeRefusal UpgradeMissing =
        new(400, "The Upgrade header must contain \"websocket\".");

    private static readonly HandshakeRefusal ConnectionMissing =
        new(400, "The Connection header must contain \"Upgrade\".");

    private static readonly HandshakeRefusal UnsupportedWebSocketVersion = new(426,
        "Unsupported WebSocket version: this server speaks version 13.",
        [new("Sec-WebSocket-Version", SupportedVersion), new("Upgrade", "websocket")]);

    private static readonly HandshakeRefusal InvalidKey =
        new(400, "Sec-WebSocket-Key must be sent once, as the base64 encoding of 16 bytes.");

    private static readonly HandshakeRefusal OriginNotAllowed = new(403, "This origin is not allowed.");

    /// <summary>
    /// Whether the request is a WebSocket handshake attempt: its <c>Upgrade</c> field lists <c>websocket</c> (in any
    /// case), or it carries <c>Sec-WebSocket-Key</c> or <c>Sec-WebSocket-Version</c>, which only a handshake sends.
    /// Such a request goes to <see cref="Validate"/>, so a botched handshake (say, without <c>Upgrade</c>) gets the
    /// 400 RFC 6455 §4.2.1 asks for; any other is a plain HTTP request.
    /// </summary>
    public static bool IsUpgradeRequest(HttpRequestHead request)
    {
        ArgumentNullException.ThrowIfNull(request);
        HttpHeaderCollection headers = request.Headers;
        return headers.ContainsToken("Upgrade", "websocket")
            || headers.Contains("Sec-WebSocket-Key")
            || headers.Contains("Sec-WebSocket-Version");
    }

    /// <summary>Checks an upgrade request against RFC 6455 §4.2.1.</summary>
    /// <returns>
    /// <see langword="null"/> when the request is a valid handshake; otherwise the refusal to send, checked in this
    /// order: a method other than GET gives 405 with <c>Allow: GET</c>; a major version other than 1 gives 505 and an
    /// HTTP version below 1.1 gives 400 (RFC 6455 asks for "at least 1.1", so HTTP/1.2 passes); a missing or repeated
    /// <c>Host</c> gives 400; an <c>Upgrade</c> field without the token <c>websocket</c> or a <c>Connection</c> field
    /// without the token <c>upgrade</c> gives 400; a <c>Sec-WebSocket-Version</c> other than exactly one
    /// <c>13</c> gives 426 with <c>Sec-WebSocket-Version: 13</c> (checked before the key, so a client of an older
    /// draft learns which version to use); a <c>Sec-WebSocket-Key</c> that is missing, repeated or not the base64
    /// encoding of exactly 16 bytes gives 400.
    /// </returns>
    public static HandshakeRefusal? Validate(HttpRequestHead request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var headers = request.Headers;
        if (!string.Equals(request.Method, "GET", StringComparison.Ordinal))
        {
            return MethodNotAllowed;
        }

        if (!HttpSyntax.TryParseVersion(request.Version, out int major, out int minor))
        {
            return MalformedVersion;
        }

        if (major != 1)
        {
            return HttpVersionNotSupported;
        }

        if (minor < 1)
        {
            return HttpVersionTooOld;
        }

        if (headers.CountValues("Host", out _) != 1)
        {
            return HostMissing;
        }

        if (!headers.ContainsToken("Upgrade", "websocket"))
        {
            return UpgradeMissing;
        }

        if (!headers.ContainsToken("Connection", "upgrade"))
        {
            return ConnectionMissing;
        }

        if (headers.CountValues("Sec-WebSocket-Version", out string? version) != 1 || version != SupportedVersion)
        {
            return UnsupportedWebSocketVersion;
        }

        if (headers.CountValues("Sec-WebSocket-Key", out string? key) != 1 || !IsValidKey(key!))
        {
            return InvalidKey;
        }

        return null;
    }

    /// <summary>The subprotocols the client offers in <c>Sec-WebSocket-Protocol</c>, in its order of preference.</summary>
    public static IReadOnlyList<string> GetOfferedSubprotocols(HttpRequestHead request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return request.Headers.GetTokens("Sec-WebSocket-Protocol");
    }

    /// <summary>
    /// Checks the request's <c>Origin</c> against the origins allowed to connect (RFC 6455 §10.2: the server's defence
    /// against cross-site WebSocket hijacking, since browsers send cookies with every handshake).
    /// </summary>
    /// <param name="request">The upgrade request.</param>
    /// <param name="allowedOrigins">Exact origins (scheme, host and port, as a browser sends them, compared without regard to
    /// case). Empty allows every origin.</param>
    /// <returns>
    /// <see langword="null"/> when the origin is allowed: the list is empty, the request carries no <c>Origin</c> (a client
    /// that is not a browser; browsers always send one), or its one <c>Origin</c> is in the list. Otherwise a 403, also
    /// for a request with several <c>Origin</c> fields, which no browser sends.
    /// </returns>
    public static HandshakeRefusal? CheckOrigin(HttpRequestHead request, ICollection<string> allowedOrigins)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(allowedOrigins);
        if (allowedOrigins.Count == 0)
        {
            return null;
        }

        int count = request.Headers.CountValues("Origin", out string? origin);
        if (count == 0)
        {
            return null;
        }

        return count == 1 && allowedOrigins.Contains(origin!, StringComparer.OrdinalIgnoreCase) ? null : OriginNotAllowed;
    }

    /// <summary>
    /// Chooses the subprotocol to answer with (RFC 6455 §4.2.2): the first of the server's, in its order of preference,
    /// that the client offered (compared exactly: subprotocol names are case-sensitive). Null when none matches, and
    /// the connection then proceeds without one.
    /// </summary>
    public static string? SelectSubprotocol(IReadOnlyList<string> offered, IEnumerable<string> supported)
    {
        ArgumentNullException.ThrowIfNull(offered);
        ArgumentNullException.ThrowIfNull(supported);
        foreach (string candidate in supported)
        {
            for (int i = 0; i < offered.Count; i++)
            {
                if (string.Equals(offered[i], candidate, StringComparison.Ordinal))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The <c>Sec-WebSocket-Accept</c> value for a client key: base64(SHA-1(key + <see cref="Guid"/>)) (RFC 6455
    /// §4.2.2). Allocates only the returned string.
    /// </summary>
    public static string ComputeAccept(string secWebSocketKey)
    {
        ArgumentNullException.ThrowIfNull(secWebSocketKey);
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
        HashKey(secWebSocketKey, hash);
        return Convert.ToBase64String(hash);
    }

    /// <summary>
    /// Writes the 101 response that accepts a validated handshake:
    /// <c>HTTP/1.1 101 Switching Protocols</c>, <c>Upgrade: websocket</c>, <c>Connection: Upgrade</c>,
    /// <c>Sec-WebSocket-Accept</c>, then <c>Sec-WebSocket-Protocol</c> and <c>Sec-WebSocket-Extensions</c> when
    /// given, then the extra fields in order, then the blank line.
    /// </summary>
    /// <param name="output">Where the bytes go.</param>
    /// <param name="secWebSocketKey">The client's <c>Sec-WebSocket-Key</c>.</param>
    /// <param name="subprotocol">The chosen subprotocol (a token, one of those offered), or <see langword="null"/>.</param>
    /// <param name="extensions">The negotiated <c>Sec-WebSocket-Extensions</c> value, or <see langword="null"/>.</param>
    /// <param name="extraHeaders">More fields to send, such as <c>Set-Cookie</c>.</param>
    /// <exception cref="ArgumentException">
    /// The subprotocol is not a token, a name is not a token, a value holds control characters, or an extra field is
    /// one this method writes itself or one a 101 response must not carry (<c>Content-Length</c>,
    /// <c>Transfer-Encoding</c>). Nothing is written in that case.
    /// </exception>
    public static void WriteAccept(IBufferWriter<byte> output, string secWebSocketKey, string? subprotocol,
        string? extensions = null, IEnumerable<KeyValuePair<string, string>>? extraHeaders = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(secWebSocketKey);
        if (subprotocol is not null && !HttpSyntax.IsToken(subprotocol))
        {
            throw new ArgumentException("A subprotocol must be a token.", nameof(subprotocol));
        }

        if (extensions is not null && !HttpSyntax.IsFieldValue(extensions))
        {
            throw new ArgumentException("The extensions value holds control characters.", nameof(extensions));
        }

        var extras = extraHeaders as IReadOnlyCollection<KeyValuePair<string, string>> ?? extraHeaders?.ToArray();
        foreach (var (name, value) in extras ?? [])
        {
            CheckField(name, value, nameof(extraHeaders));
            if (IsAcceptOwned(name))
            {
                throw new ArgumentException($"Header '{name}' cannot be added to a 101 response.", nameof(extraHeaders));
            }
        }

        Write(output, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"u8
            + "Sec-WebSocket-Accept: "u8);
        Span<byte> hash = stackalloc byte[SHA1.HashSizeInBytes];
        HashKey(secWebSocketKey, hash);
        var accept = output.GetSpan(AcceptLength);
        Base64.EncodeToUtf8(hash, accept, out _, out int written);
        output.Advance(written);
        Write(output, "\r\n"u8);

        if (subprotocol is not null)
        {
            WriteField(output, "Sec-WebSocket-Protocol", subprotocol);
        }

        if (extensions is not null)
        {
            WriteField(output, "Sec-WebSocket-Extensions", extensions);
        }

        foreach (var (name, value) in extras ?? [])
        {
            WriteField(output, name, value);
        }

        Write(output, "\r\n"u8);
    }

    /// <summary>
    /// Writes a complete HTTP response for a refusal: the status line with the standard reason phrase,
    /// <c>Content-Type: text/plain; charset=utf-8</c> (unless the refusal sets its own), <c>Content-Length</c>,
    /// <c>Connection: close</c>, the refusal's fields, a blank line, and the refusal's reason plus a line feed as
    /// the UTF-8 body. The connection should be closed once it is sent.
    /// </summary>
    public static void WriteRefusal(IBufferWriter<byte> output, HandshakeRefusal refusal)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(refusal);

        Write(output, "HTTP/1.1 "u8);
        WriteNumber(output, refusal.StatusCode);
        Write(output, " "u8);
        WriteLatin1(output, ReasonPhrase(refusal.StatusCode));
        Write(output, "\r\n"u8);

        bool hasContentType = false;
        foreach (var (name, _) in refusal.Headers)
        {
            hasContentType |= name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase);
        }

        if (!hasContentType)
        {
            Write(output, "Content-Type: text/plain; charset=utf-8\r\n"u8);
        }

        int bodyLength = Encoding.UTF8.GetByteCount(refusal.Reason) + 1;
        Write(output, "Content-Length: "u8);
        WriteNumber(output, bodyLength);
        Write(output, "\r\nConnection: close\r\n"u8);
        foreach (var (name, value) in refusal.Headers)
        {
            WriteField(output, name, value);
        }

        Write(output, "\r\n"u8);
        var body = output.GetSpan(bodyLength);
        int encoded = Encoding.UTF8.GetBytes(refusal.Reason, body);
        body[encoded] = (byte)'\n';
        output.Advance(bodyLength);
    }

    /// <summary>The standard reason phrase for a status code (RFC 9110 §15), or an empty string if unknown.</summary>
    internal static string ReasonPhrase(int status) => status switch
    {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => string.Empty,
    };

    /// <summary>Whether a key is 24 base64 characters ending in "==", i.e. exactly 16 bytes (RFC 6455 §4.2.1).</summary>
    private static bool IsValidKey(string key)
    {
        if (key.Length != 24 || !key.EndsWith("==", StringComparison.Ordinal)
            || key.AsSpan(0, 22).ContainsAnyExcept(Base64Alphabet))
        {
            return false;
        }

        Span<byte> decoded = stackalloc byte[18];
        return Convert.TryFromBase64String(key, decoded, out int length) && length == 16;
    }

    private static void HashKey(string key, Span<byte> hash)
    {
        int inputLength = key.Length + GuidBytes.Length;
        byte[]? rented = null;
        Span<byte> input = inputLength <= StackHashInputLimit
            ? stackalloc byte[StackHashInputLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(inputLength));
        try
        {
            // Header bytes were read as Latin-1, so encoding back as Latin-1 hashes exactly the bytes the client sent.
            int keyLength = Encoding.Latin1.GetBytes(key, input);
            GuidBytes.CopyTo(input[keyLength..]);
#pragma warning disable CA5350 // RFC 6455 mandates SHA-1 here; it is a fingerprint, not a security measure.
            SHA1.HashData(input[..inputLength], hash);
#pragma warning restore CA5350
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private static bool IsAcceptOwned(string name) =>
        name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Connection", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Sec-WebSocket-Accept", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Sec-WebSocket-Protocol", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Sec-WebSocket-Extensions", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase);

    private static void CheckField(string name, string value, string parameterName)
    {
        if (name is null || !HttpSyntax.IsToken(name))
        {
            throw new ArgumentException($"Header name '{name}' is not a valid token.", parameterName);
        }

        if (value is null || !HttpSyntax.IsFieldValue(value))
        {
            throw new ArgumentException($"The value of header '{name}' is missing or holds control characters.",
                parameterName);
        }
    }

    private static void WriteField(IBufferWriter<byte> output, string name, string value)
    {
        WriteLatin1(output, name);
        Write(output, ": "u8);
        WriteLatin1(output, value);
        Write(output, "\r\n"u8);
    }

    private static void Write(IBufferWriter<byte> output, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(output.GetSpan(bytes.Length));
        output.Advance(bytes.Length);
    }

    private static void WriteLatin1(IBufferWriter<byte> output, string text)
    {
        int written = Encoding.Latin1.GetBytes(text, output.GetSpan(text.Length));
        output.Advance(written);
    }

    private static void WriteNumber(IBufferWriter<byte> output, int value)
    {
        var span = output.GetSpan(11);
        value.TryFormat(span, out int written, default, CultureInfo.InvariantCulture);
        output.Advance(written);
    }
}
