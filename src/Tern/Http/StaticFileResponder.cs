using System.Globalization;
using System.Reflection;
using System.Text;

namespace Tern.Http;

/// <summary>
/// Serves static files (a web page, its scripts, styles and images) on <see cref="WebSocketServerOptions.HttpHandler"/>,
/// so a page and its WebSocket endpoint share one port:
/// <code>
/// var files = StaticFileResponder.FromEmbeddedResources(typeof(Program).Assembly, "wwwroot/");
/// options.HttpHandler = files.HandleAsync;
/// </code>
/// </summary>
/// <remarks>
/// <para>Answers GET and HEAD (anything else gets 405 with an Allow header); serves the default document
/// (index.html) for paths ending with '/', and redirects a directory path without the slash to the path with it;
/// sends Content-Type by extension, ETag, Last-Modified and Cache-Control, and answers If-None-Match and
/// If-Modified-Since with 304.</para>
/// <para>Request paths are checked before any lookup. Refused with 400: paths that do not start with '/', empty
/// segments (<c>//</c>, which could name an absolute path), "." and ".." segments, and segments that decode to
/// something containing '/', '\', ':', NUL or another control character, or that end with '.' or a space (names
/// Windows would silently rewrite) — in raw or percent-encoded form (<c>%2e%2e</c>, <c>%2f</c>, <c>%5c</c>, <c>%00</c>),
/// as well as malformed percent-encoding and invalid UTF-8. Hidden names (starting with '.', such as <c>.git</c>) are
/// not served: 404. Percent-decoding happens once, so <c>%252e</c> names a file literally called <c>%2e</c>.</para>
/// <para>The instance is thread-safe; create it once and share it.</para>
/// </remarks>
public sealed class StaticFileResponder
{
    private const string AllowedMethods = "GET, HEAD";
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private static readonly string[] s_httpDateFormats =
    [
        "r",                            // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        "dddd, dd-MMM-yy HH:mm:ss 'GMT'", // obsolete RFC 850 form
        "ddd MMM d HH:mm:ss yyyy",        // obsolete asctime form
    ];

    private readonly IStaticFileSource _source;
    private readonly StaticFileResponderOptions _options;

    /// <summary>Serves files from <paramref name="source"/>.</summary>
    public StaticFileResponder(IStaticFileSource source, StaticFileResponderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        _source = source;
        _options = options ?? new StaticFileResponderOptions();
    }

    /// <summary>Serves the files under a directory, read from disk on each request.</summary>
    public static StaticFileResponder FromDirectory(string rootDirectory, StaticFileResponderOptions? options = null) =>
        new(new DirectoryFileSource(rootDirectory), options);

    /// <summary>Serves files embedded in an assembly (see <see cref="EmbeddedResourceFileSource"/> for how to embed them).</summary>
    public static StaticFileResponder FromEmbeddedResources(Assembly assembly, string resourcePrefix = "wwwroot/", StaticFileResponderOptions? options = null) =>
        new(new EmbeddedResourceFileSource(assembly, resourcePrefix), options);

    /// <summary>Answers a request; fits <see cref="WebSocketServerOptions.HttpHandler"/> as it is.</summary>
    public async ValueTask HandleAsync(HttpRequestContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        HttpResponse response = await GetResponseAsync(
            context.Request.Method,
            context.Request.Path,
            context.Request.Headers["If-None-Match"],
            context.Request.Headers["If-Modified-Since"],
            cancellationToken).ConfigureAwait(false);
        await context.RespondAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Works out the response to a request without sending it: useful to serve files only when they exist and handle
    /// the 404s otherwise (<c>response.StatusCode == 404</c>).
    /// </summary>
    /// <param name="method">The request method; GET and HEAD are served.</param>
    /// <param name="path">The raw (still percent-encoded) request path; a query after '?' is ignored.</param>
    /// <param name="ifNoneMatch">The If-None-Match header, if any.</param>
    /// <param name="ifModifiedSince">The If-Modified-Since header, if any (ignored when If-None-Match is present).</param>
    /// <param name="cancellationToken">Cancels the file lookup.</param>
    public async ValueTask<HttpResponse> GetResponseAsync(string method, string path, string? ifNoneMatch = null, string? ifModifiedSince = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(path);
        if (method is not ("GET" or "HEAD"))
        {
            HttpResponse notAllowed = HttpResponse.Text(405, "Method Not Allowed");
            notAllowed.Headers.Add(new("Allow", AllowedMethods));
            return notAllowed;
        }

        PathCheck check = ToRelativePath(path, out string relativePath);
        if (check == PathCheck.Invalid)
        {
            return HttpResponse.Text(400, "Bad Request: invalid path");
        }

        if (check == PathCheck.Hidden)
        {
            return HttpResponse.Text(404, "Not Found");
        }

        bool isDirectory = relativePath.Length == 0 || relativePath.EndsWith('/');
        StaticFile? file = await _source.GetFileAsync(isDirectory ? relativePath + _options.DefaultDocument : relativePath, cancellationToken).ConfigureAwait(false);
        if (file is null)
        {
            if (!isDirectory && await _source.GetFileAsync(relativePath + "/" + _options.DefaultDocument, cancellationToken).ConfigureAwait(false) is not null)
            {
                // Relative links in the directory's index only resolve against a URL that ends with '/'.
                HttpResponse redirect = HttpResponse.Text(301, "Moved Permanently");
                redirect.Headers.Add(new("Location", StripQuery(path) + "/"));
                return redirect;
            }

            return HttpResponse.Text(404, "Not Found");
        }

        string lastModified = file.LastModified.ToUniversalTime().ToString("r", CultureInfo.InvariantCulture);
        bool notModified = ifNoneMatch is not null
            ? MatchesAny(ifNoneMatch, file.ETag)
            : ifModifiedSince is not null && IsNotModifiedSince(file.LastModified, ifModifiedSince);

        HttpResponse response = notModified
            ? new HttpResponse(304)
            : new HttpResponse(200, file.Content, ContentTypeOf(isDirectory ? _options.DefaultDocument : relativePath));
        response.Headers.Add(new("ETag", file.ETag));
        response.Headers.Add(new("Last-Modified", lastModified));
        response.Headers.Add(new("Cache-Control", _options.CacheControl));
        if (!notModified)
        {
            response.Headers.Add(new("X-Content-Type-Options", "nosniff"));
        }

        return response;
    }

    /// <summary>The content type for a file name, by its extension.</summary>
    public string ContentTypeOf(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        string extension = Path.GetExtension(fileName);
        return extension.Length > 0 && _options.ContentTypes.TryGetValue(extension, out string? type) ? type : _options.DefaultContentType;
    }

    internal enum PathCheck
    {
        Valid,
        Invalid,
        Hidden,
    }

    /// <summary>
    /// Turns a raw request path into a site-relative one with decoded segments joined by '/' (empty for the root,
    /// ending with '/' for a directory), or says why it cannot be served.
    /// </summary>
    internal static PathCheck ToRelativePath(string requestPath, out string relativePath)
    {
        relativePath = string.Empty;
        string path = StripQuery(requestPath);
        if (path.Length == 0 || path[0] != '/')
        {
            // "*", "http://host/x" (absolute form) and "C:/x" are not paths under this site.
            return PathCheck.Invalid;
        }

        string[] rawSegments = path[1..].Split('/');
        var result = new StringBuilder(path.Length);
        bool hidden = false;
        for (int i = 0; i < rawSegments.Length; i++)
        {
            bool isLast = i == rawSegments.Length - 1;
            if (rawSegments[i].Length == 0)
            {
                if (isLast)
                {
                    break; // A trailing slash: a directory.
                }

                return PathCheck.Invalid;
            }

            string? segment = DecodeSegment(rawSegments[i]);
            if (segment is null || !IsSafeSegment(segment))
            {
                return PathCheck.Invalid;
            }

            hidden |= segment[0] == '.';
            result.Append(segment);
            if (!isLast)
            {
                result.Append('/');
            }
        }

        if (hidden)
        {
            return PathCheck.Hidden;
        }

        relativePath = result.ToString();
        return PathCheck.Valid;
    }

    private static string StripQuery(string path)
    {
        int end = path.AsSpan().IndexOfAny('?', '#');
        return end < 0 ? path : path[..end];
    }

    /// <summary>Percent-decodes one segment; null when the encoding is malformed or the bytes are not UTF-8.</summary>
    private static string? DecodeSegment(string raw)
    {
        if (!raw.Contains('%'))
        {
            return raw;
        }

        var bytes = new List<byte>(raw.Length);
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < raw.Length; i++)
        {
            char c = raw[i];
            if (c == '%')
            {
                if (i + 2 >= raw.Length)
                {
                    return null;
                }

                if (!byte.TryParse(raw.AsSpan(i + 1, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte value))
                {
                    return null;
                }

                bytes.Add(value);
                i += 2;
            }
            else if (char.IsSurrogate(c))
            {
                if (i + 1 >= raw.Length || !char.IsSurrogatePair(c, raw[i + 1]))
                {
                    return null;
                }

                int length = Encoding.UTF8.GetBytes(raw.AsSpan(i, 2), utf8);
                bytes.AddRange(utf8[..length]);
                i++;
            }
            else
            {
                int length = Encoding.UTF8.GetBytes(raw.AsSpan(i, 1), utf8);
                bytes.AddRange(utf8[..length]);
            }
        }

        try
        {
            return s_strictUtf8.GetString(bytes.ToArray());
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static bool IsSafeSegment(string segment)
    {
        if (segment is "." or ".." || segment.EndsWith('.') || segment.EndsWith(' '))
        {
            return false;
        }

        foreach (char c in segment)
        {
            if (c is '/' or '\\' or ':' || char.IsControl(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/ prefixes do not matter.</summary>
    private static bool MatchesAny(string ifNoneMatch, string etag)
    {
        ReadOnlySpan<char> current = WithoutWeakPrefix(etag);
        foreach (string candidate in ifNoneMatch.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (candidate == "*" || WithoutWeakPrefix(candidate).SequenceEqual(current))
            {
                return true;
            }
        }

        return false;
    }

    private static ReadOnlySpan<char> WithoutWeakPrefix(string etag) => etag.StartsWith("W/", StringComparison.Ordinal) ? etag.AsSpan(2) : etag;

    private static bool IsNotModifiedSince(DateTimeOffset lastModified, string ifModifiedSince)
    {
        if (!DateTimeOffset.TryParseExact(ifModifiedSince.Trim(), s_httpDateFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AllowWhiteSpaces, out DateTimeOffset since))
        {
            return false; // An unparsable date is ignored, as RFC 9110 §13.1.3 says.
        }

        // HTTP dates have whole seconds; the file's time usually has more precision.
        long fileSeconds = lastModified.ToUnixTimeSeconds();
        return fileSeconds <= since.ToUnixTimeSeconds();
    }
}
