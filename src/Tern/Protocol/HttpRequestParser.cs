using System.Buffers;
using System.Text;

namespace Tern.Protocol;

/// <summary>
/// Parses an HTTP/1.x request head (request line and header fields) from bytes as they arrive, however TCP splits
/// them. Sans-I/O: the caller owns the buffer and the socket.
/// </summary>
/// <remarks>
/// <para>
/// Call <see cref="TryParse"/> with the whole unconsumed buffer each time more bytes arrive. On
/// <see cref="HttpParseStatus.NeedMoreData"/> nothing is consumed; call again with the same bytes followed by the
/// new ones. The parser remembers how far it has already looked, so a head that trickles in byte by byte is still
/// examined in linear time; passing a buffer shorter than the previous one starts over.
/// </para>
/// <para>
/// The syntax is strict (RFC 9112): lines end in CRLF (a bare LF is refused), header names are tokens with no
/// whitespace before the colon, obsolete line folding and control characters in values are refused, and bytes are
/// read as Latin-1. Limits are enforced while the head is still incomplete, so an oversized head is refused as soon
/// as it crosses the limit. One instance serves one connection at a time and is not thread-safe; after
/// <see cref="HttpParseStatus.Complete"/> or <see cref="HttpParseStatus.Invalid"/> it is ready for a new head.
/// </para>
/// </remarks>
public sealed class HttpRequestParser
{
    private const int StackCopyLimit = 512;

    // Each header line needs at least "x:" plus CRLF, so a head this small could not hold any request.
    private const int MinimumHeadBytes = 16;

    private static readonly string[] KnownMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

    private static readonly string[] KnownNames =
    [
        "Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions", "Origin", "User-Agent", "Cookie", "Pragma", "Cache-Control", "Accept",
        "Accept-Encoding", "Accept-Language", "Authorization", "Content-Length", "Content-Type",
    ];

    private static readonly string[] KnownValues =
    [
        "websocket", "Upgrade", "13", "keep-alive, Upgrade", "no-cache", "gzip, deflate, br, zstd", "gzip, deflate, br",
        "permessage-deflate; client_max_window_bits",
    ];

    private readonly int _maxHeadBytes;
    private readonly int _maxHeaderCount;

    // Scan progress over the unconsumed buffer, kept across NeedMoreData calls.
    private int _scannedBytes;
    private int _completeLines;
    private bool _methodEnded;

    /// <summary>Creates a parser.</summary>
    /// <param name="maxHeadBytes">
    /// The largest head accepted, counting everything from the first byte of the request line to the end of the
    /// blank line that ends the head. A longer head is refused with 431 (or 414 if the request line alone is longer).
    /// </param>
    /// <param name="maxHeaderCount">The most header field lines accepted; more are refused with 431.</param>
    public HttpRequestParser(int maxHeadBytes = 8192, int maxHeaderCount = 100)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxHeadBytes, MinimumHeadBytes);
        ArgumentOutOfRangeException.ThrowIfNegative(maxHeaderCount);
        _maxHeadBytes = maxHeadBytes;
        _maxHeaderCount = maxHeaderCount;
    }

    /// <summary>The largest head accepted, in bytes, including the request line and the final blank line.</summary>
    public int MaxHeadBytes => _maxHeadBytes;

    /// <summary>The most header field lines accepted.</summary>
    public int MaxHeaderCount => _maxHeaderCount;

    /// <summary>Tries to parse a request head from the start of <paramref name="buffer"/>.</summary>
    /// <param name="buffer">All unconsumed bytes received so far; may span several segments.</param>
    /// <param name="consumed">
    /// On <see cref="HttpParseStatus.Complete"/>, the position just after the blank line that ends the head: bytes
    /// after it (such as a first WebSocket frame sent in the same packet) belong to the caller. Otherwise
    /// <c>buffer.Start</c>.
    /// </param>
    /// <param name="request">The parsed head when the result is <see cref="HttpParseStatus.Complete"/>.</param>
    /// <param name="refusal">
    /// The response to send when the result is <see cref="HttpParseStatus.Invalid"/>: 400 for malformed syntax, 414
    /// for a request line over the size limit, 431 for a head over the size limit or with too many fields, 505 for a
    /// major version other than 1, 501 for <c>CONNECT</c> and for <c>Transfer-Encoding</c> (request bodies with a
    /// transfer coding are not supported), and 400 for <c>Transfer-Encoding</c> together with <c>Content-Length</c>
    /// or a <c>Content-Length</c> that is repeated or not a plain number.
    /// </param>
    public HttpParseStatus TryParse(in ReadOnlySequence<byte> buffer, out SequencePosition consumed,
        out HttpRequestHead? request, out HandshakeRefusal? refusal)
    {
        consumed = buffer.Start;
        request = null;
        refusal = null;

        int searchable = (int)Math.Min(buffer.Length, _maxHeadBytes);
        if (searchable < _scannedBytes)
        {
            ResetScan();
        }

        int headLength = 0;
        refusal = searchable > _scannedBytes ? ScanNewBytes(buffer, searchable, out headLength) : null;
        if (refusal is null && headLength == 0)
        {
            if (searchable < _maxHeadBytes)
            {
                return HttpParseStatus.NeedMoreData;
            }

            refusal = _completeLines == 0
                ? new HandshakeRefusal(414, "The request line is longer than the server accepts.")
                : new HandshakeRefusal(431, "The request head is larger than the server accepts.");
        }

        ResetScan();
        if (refusal is not null)
        {
            return HttpParseStatus.Invalid;
        }

        var head = buffer.Slice(0, headLength);
        refusal = head.IsSingleSegment ? ParseHead(head.FirstSpan, out request) : ParseSegmentedHead(head, out request);
        if (refusal is not null)
        {
            return HttpParseStatus.Invalid;
        }

        consumed = buffer.GetPosition(headLength);
        return HttpParseStatus.Complete;
    }

    private void ResetScan()
    {
        _scannedBytes = 0;
        _completeLines = 0;
        _methodEnded = false;
    }

    /// <summary>
    /// Scans the bytes not yet examined (plus three before them, so a terminator split across calls is seen) for the
    /// blank line that ends the head, refusing early what can never become a valid head.
    /// </summary>
    private HandshakeRefusal? ScanNewBytes(in ReadOnlySequence<byte> buffer, int searchable, out int headLength)
    {
        int regionStart = Math.Max(0, _scannedBytes - 3);
        var region = buffer.Slice(regionStart, searchable - regionStart);
        if (region.IsSingleSegment)
        {
            return Scan(region.FirstSpan, regionStart, out headLength);
        }

        int length = (int)region.Length;
        byte[]? rented = null;
        Span<byte> copy = length <= StackCopyLimit
            ? stackalloc byte[StackCopyLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            region.CopyTo(copy);
            return Scan(copy[..length], regionStart, out headLength);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private HandshakeRefusal? Scan(ReadOnlySpan<byte> region, int regionStart, out int headLength)
    {
        headLength = 0;
        int next = _scannedBytes - regionStart;

        // A method is a token ended by a space: anything else in the first bytes (a TLS ClientHello sent to a
        // plain-text port, a stray CRLF) is refused at once instead of waiting for a terminator that never comes.
        for (int i = next; !_methodEnded && i < region.Length; i++)
        {
            if (region[i] == (byte)' ' && regionStart + i > 0)
            {
                _methodEnded = true;
            }
            else if (!HttpSyntax.IsTokenByte(region[i]))
            {
                return new HandshakeRefusal(400, "The request line does not start with a method.");
            }
        }

        while (true)
        {
            int found = region[next..].IndexOf((byte)'\n');
            if (found < 0)
            {
                _scannedBytes = regionStart + region.Length;
                return null;
            }

            // The region keeps three bytes of look-back, so the byte before any new LF is in it (unless the LF is
            // the very first byte of the buffer, which the method check above has refused already).
            int lineFeed = next + found;
            if (region[lineFeed - 1] != (byte)'\r')
            {
                return new HandshakeRefusal(400, "Lines must end with CRLF.");
            }

            if (lineFeed >= 3 && region[lineFeed - 2] == (byte)'\n' && region[lineFeed - 3] == (byte)'\r')
            {
                headLength = regionStart + lineFeed + 1;
                return null;
            }

            // Lines so far: the request line and the header lines; refuse as soon as there are too many.
            if (++_completeLines > _maxHeaderCount + 1)
            {
                return new HandshakeRefusal(431, "The request has more header fields than the server accepts.");
            }

            next = lineFeed + 1;
        }
    }

    private HandshakeRefusal? ParseSegmentedHead(in ReadOnlySequence<byte> head, out HttpRequestHead? request)
    {
        int length = (int)head.Length;
        byte[]? rented = null;
        Span<byte> copy = length <= StackCopyLimit
            ? stackalloc byte[StackCopyLimit]
            : (rented = ArrayPool<byte>.Shared.Rent(length));
        try
        {
            head.CopyTo(copy);
            return ParseHead(copy[..length], out request);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Parses a complete head: every LF in it is preceded by CR and it ends with an empty line.</summary>
    private HandshakeRefusal? ParseHead(ReadOnlySpan<byte> head, out HttpRequestHead? request)
    {
        request = null;
        int requestLineEnd = head.IndexOf("\r\n"u8);
        var refusal = ParseRequestLine(head[..requestLineEnd], out string method, out string target,
            out string version);
        if (refusal is not null)
        {
            return refusal;
        }

        int fieldCount = head.Count((byte)'\n') - 2;
        if (fieldCount > _maxHeaderCount)
        {
            return new HandshakeRefusal(431, "The request has more header fields than the server accepts.");
        }

        var fields = new KeyValuePair<string, string>[fieldCount];
        var rest = head[(requestLineEnd + 2)..];
        for (int i = 0; i < fields.Length; i++)
        {
            int lineEnd = rest.IndexOf("\r\n"u8);
            refusal = ParseField(rest[..lineEnd], out fields[i]);
            if (refusal is not null)
            {
                return refusal;
            }

            rest = rest[(lineEnd + 2)..];
        }

        var headers = HttpHeaderCollection.FromValidatedFields(fields);
        // The bytes after the head are left to the caller, so it must be able to tell where a body ends.
        refusal = HttpRequestFraming.ReadContentLength(headers, out _);
        if (refusal is not null)
        {
            return refusal;
        }

        request = new HttpRequestHead(method, target, version, headers);
        return null;
    }

    private static HandshakeRefusal? ParseRequestLine(ReadOnlySpan<byte> line, out string method, out string target,
        out string version)
    {
        method = target = version = string.Empty;
        int methodEnd = line.IndexOf((byte)' ');
        if (methodEnd <= 0)
        {
            return new HandshakeRefusal(400, "Malformed request line.");
        }

        var methodBytes = line[..methodEnd];
        var afterMethod = line[(methodEnd + 1)..];
        int targetEnd = afterMethod.IndexOf((byte)' ');
        if (targetEnd <= 0)
        {
            return new HandshakeRefusal(400, "Malformed request line.");
        }

        var targetBytes = afterMethod[..targetEnd];
        var versionBytes = afterMethod[(targetEnd + 1)..];
        if (!HttpSyntax.IsToken(methodBytes))
        {
            return new HandshakeRefusal(400, "Malformed request method.");
        }

        if (!HttpSyntax.TryParseVersion(versionBytes, out int major, out int minor))
        {
            return new HandshakeRefusal(400, "Malformed HTTP version.");
        }

        if (major != 1)
        {
            return new HandshakeRefusal(505, "Only HTTP/1.x is supported.");
        }

        if (methodBytes.SequenceEqual("CONNECT"u8))
        {
            return new HandshakeRefusal(501, "CONNECT is not supported.");
        }

        if (targetBytes.ContainsAnyExceptInRange((byte)'!', (byte)'~') || !IsSupportedTargetForm(targetBytes, methodBytes))
        {
            return new HandshakeRefusal(400, "Malformed request target.");
        }

        method = Intern(methodBytes, KnownMethods);
        target = Encoding.Latin1.GetString(targetBytes);
        version = minor switch
        {
            1 => "HTTP/1.1",
            0 => "HTTP/1.0",
            _ => Encoding.Latin1.GetString(versionBytes),
        };
        return null;
    }

    /// <summary>
    /// Origin-form (<c>/path</c>), absolute-form (<c>scheme://authority/path</c>), and asterisk-form for OPTIONS;
    /// authority-form belongs to CONNECT, which is not supported.
    /// </summary>
    private static bool IsSupportedTargetForm(ReadOnlySpan<byte> target, ReadOnlySpan<byte> method)
    {
        if (target[0] == (byte)'/')
        {
            return true;
        }

        if (target.SequenceEqual("*"u8))
        {
            return method.SequenceEqual("OPTIONS"u8);
        }

        int schemeEnd = target.IndexOf("://"u8);
        return schemeEnd > 0 && char.IsAsciiLetter((char)target[0])
            && !target[..schemeEnd].ContainsAnyExcept(SchemeBytes);
    }

    private static readonly SearchValues<byte> SchemeBytes =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."u8);

    private static HandshakeRefusal? ParseField(ReadOnlySpan<byte> line, out KeyValuePair<string, string> field)
    {
        field = default;
        if (line[0] is (byte)' ' or (byte)'\t')
        {
            return new HandshakeRefusal(400, "Obsolete line folding is not accepted.");
        }

        int colon = line.IndexOf((byte)':');
        if (colon < 0)
        {
            return new HandshakeRefusal(400, "A header line has no colon.");
        }

        var name = line[..colon];
        if (!HttpSyntax.IsToken(name))
        {
            return new HandshakeRefusal(400, "Malformed header name.");
        }

        var value = line[(colon + 1)..].Trim(HttpSyntax.WhitespaceBytes);
        if (!HttpSyntax.IsFieldValue(value))
        {
            return new HandshakeRefusal(400, "A header value holds control characters.");
        }

        field = new KeyValuePair<string, string>(Intern(name, KnownNames), Intern(value, KnownValues));
        return null;
    }

    /// <summary>Returns a shared string for common exact-case text, so a typical handshake allocates less.</summary>
    private static string Intern(ReadOnlySpan<byte> bytes, string[] known)
    {
        foreach (var candidate in known)
        {
            if (candidate.Length == bytes.Length && Ascii.Equals(bytes, candidate))
            {
                return candidate;
            }
        }

        return bytes.IsEmpty ? string.Empty : Encoding.Latin1.GetString(bytes);
    }
}
