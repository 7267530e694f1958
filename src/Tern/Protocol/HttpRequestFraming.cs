using System.Globalization;

namespace Tern.Protocol;

/// <summary>
/// How long a request's body is (RFC 9112 §6), decided from its head alone. Tern accepts exactly one way to delimit a
/// body, a single plain <c>Content-Length</c>: every other framing is refused before a byte of the body is read, so the
/// server never has to guess where a request ends (the root of request smuggling).
/// </summary>
internal static class HttpRequestFraming
{
    // Eighteen digits always fit in a long; a longer value is refused rather than parsed into an overflow.
    private const int MaxContentLengthDigits = 18;

    // RFC 9112 §6.1: both fields at once is how a request is smuggled past a front end that reads the other one.
    private static readonly HandshakeRefusal BothFramings =
        new(400, "A request must not carry both Transfer-Encoding and Content-Length.");

    private static readonly HandshakeRefusal TransferEncodingNotImplemented =
        new(501, "Transfer-Encoding (chunked or any other) is not implemented: send the body with Content-Length.");

    private static readonly HandshakeRefusal RepeatedContentLength = new(400, "Content-Length is sent more than once.");

    private static readonly HandshakeRefusal MalformedContentLength = new(400, "Malformed Content-Length.");

    private static readonly HandshakeRefusal LengthRequired =
        new(411, "This request needs a Content-Length (chunked bodies are not accepted).");

    /// <summary>
    /// Checks the framing fields of a request head: no <c>Transfer-Encoding</c>, and at most one <c>Content-Length</c>
    /// that is a plain decimal number (1 to 18 digits; no sign, no list, no whitespace inside).
    /// </summary>
    /// <param name="headers">The request's header fields.</param>
    /// <param name="contentLength">The declared length, or -1 when there is no <c>Content-Length</c>.</param>
    /// <returns>Null when the body can be delimited; otherwise the refusal (400, or 501 for a transfer coding).</returns>
    public static HandshakeRefusal? ReadContentLength(HttpHeaderCollection headers, out long contentLength)
    {
        contentLength = -1;
        int contentLengths = headers.CountValues("Content-Length", out string? value);
        if (headers.Contains("Transfer-Encoding"))
        {
            return contentLengths > 0 ? BothFramings : TransferEncodingNotImplemented;
        }

        if (contentLengths == 0)
        {
            return null;
        }

        // Identical repeats ("5, 5" or two lines of 5) are allowed to be merged by RFC 9112 §6.3, but refusing them is
        // allowed too and leaves no doubt about what an intermediary in front of the server saw.
        if (contentLengths > 1)
        {
            return RepeatedContentLength;
        }

        if (value!.Length is 0 or > MaxContentLengthDigits || value.AsSpan().ContainsAnyExceptInRange('0', '9'))
        {
            return MalformedContentLength;
        }

        contentLength = long.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);
        return null;
    }

    /// <summary>
    /// Decides how many body bytes a server that accepts bodies of up to <paramref name="maxBodySize"/> bytes reads
    /// after <paramref name="request"/>'s head, or what it answers instead.
    /// </summary>
    /// <param name="request">A parsed request head.</param>
    /// <param name="maxBodySize">The largest body accepted; 0 accepts only empty bodies.</param>
    /// <param name="bodyLength">The number of bytes to read after the head (0 when there is no body).</param>
    /// <returns>
    /// Null when the body is to be read; otherwise the refusal: the framing refusals of
    /// <see cref="ReadContentLength"/>, 411 for a POST, PUT or PATCH without <c>Content-Length</c> (their bodies have a
    /// meaning, so the server must know where it ends), and 413 for a declared length over the limit.
    /// </returns>
    public static HandshakeRefusal? GetBodyLength(HttpRequestHead request, long maxBodySize, out long bodyLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBodySize);
        bodyLength = 0;
        HandshakeRefusal? refusal = ReadContentLength(request.Headers, out long contentLength);
        if (refusal is not null)
        {
            return refusal;
        }

        if (contentLength < 0)
        {
            return request.Method is "POST" or "PUT" or "PATCH" ? LengthRequired : null;
        }

        if (contentLength > maxBodySize)
        {
            return new HandshakeRefusal(413, string.Create(CultureInfo.InvariantCulture,
                $"The request body is larger than the server accepts ({maxBodySize} bytes at most)."));
        }

        bodyLength = contentLength;
        return null;
    }

    /// <summary>
    /// Whether a body sent with this method is read and then dropped: RFC 9110 §9.3.1 and §9.3.2 give content in a GET
    /// or HEAD request no meaning, so the server frames it (to stay in step with the client) but does not hand it on.
    /// </summary>
    public static bool IgnoresBody(string method) => method is "GET" or "HEAD";
}
