using System.Collections.ObjectModel;
using System.Net;

namespace Tern.Protocol;

/// <summary>
/// A parsed HTTP/1.x request head: the request line and the header fields. Produced by
/// <see cref="HttpRequestParser"/>; immutable, so it can be handed to application hooks and kept after the
/// handshake.
/// </summary>
public sealed class HttpRequestHead
{
    private IReadOnlyDictionary<string, string>? _query;
    private IReadOnlyDictionary<string, string>? _cookies;

    /// <summary>Creates a request head, for example to exercise handshake validation or a hook in a test.</summary>
    /// <param name="method">The method, e.g. <c>GET</c> (case-sensitive).</param>
    /// <param name="target">The raw request-target, e.g. <c>/chat?room=a</c>.</param>
    /// <param name="version">The protocol version, e.g. <c>HTTP/1.1</c>.</param>
    /// <param name="headers">The header fields.</param>
    public HttpRequestHead(string method, string target, string version, HttpHeaderCollection headers)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(version);
        ArgumentNullException.ThrowIfNull(headers);
        Method = method;
        Target = target;
        Version = version;
        Headers = headers;

        int queryStart = target.IndexOf('?', StringComparison.Ordinal);
        if (queryStart < 0)
        {
            Path = PathOf(target);
            QueryString = string.Empty;
        }
        else
        {
            Path = PathOf(target[..queryStart]);
            QueryString = target[(queryStart + 1)..];
        }
    }

    /// <summary>The method, e.g. <c>GET</c>.</summary>
    public string Method { get; }

    /// <summary>The raw request-target as sent, e.g. <c>/chat?room=a</c>.</summary>
    public string Target { get; }

    /// <summary>
    /// The path of the target, before any <c>?</c>, still percent-encoded as sent. For an absolute-form target
    /// (<c>http://host/chat</c>) this is the path part (<c>/chat</c>), and <c>/</c> when the target has none.
    /// </summary>
    public string Path { get; }

    /// <summary>The raw query after the first <c>?</c>, without the <c>?</c>; empty when there is none.</summary>
    public string QueryString { get; }

    /// <summary>The protocol version, e.g. <c>HTTP/1.1</c>.</summary>
    public string Version { get; }

    /// <summary>The header fields.</summary>
    public HttpHeaderCollection Headers { get; }

    /// <summary>
    /// The query parameters, percent-decoded as UTF-8 with <c>+</c> read as a space. When a name repeats, its first
    /// value wins; a parameter without <c>=</c> has an empty value; parameters with an empty name are skipped.
    /// Parsed on first use. Names are case-sensitive.
    /// </summary>
    public IReadOnlyDictionary<string, string> Query => _query ??= ParseQuery(QueryString);

    /// <summary>
    /// The cookies from every <c>Cookie</c> field, as <c>name=value</c> pairs separated by <c>;</c>. Values are not
    /// decoded except that surrounding double quotes are removed; when a name repeats, its first value wins; pairs
    /// without <c>=</c> or with an empty name are skipped. Parsed on first use. Names are case-sensitive.
    /// </summary>
    public IReadOnlyDictionary<string, string> Cookies => _cookies ??= ParseCookies(Headers);

    /// <inheritdoc/>
    public override string ToString() => $"{Method} {Target} {Version}";

    private static string PathOf(string targetWithoutQuery)
    {
        if (targetWithoutQuery.StartsWith('/'))
        {
            return targetWithoutQuery;
        }

        int schemeEnd = targetWithoutQuery.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd > 0)
        {
            int pathStart = targetWithoutQuery.IndexOf('/', schemeEnd + 3);
            return pathStart < 0 ? "/" : targetWithoutQuery[pathStart..];
        }

        return targetWithoutQuery.Length == 0 ? "/" : targetWithoutQuery;
    }

    private static IReadOnlyDictionary<string, string> ParseQuery(string queryString)
    {
        if (queryString.Length == 0)
        {
            return ReadOnlyDictionary<string, string>.Empty;
        }

        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        ReadOnlySpan<char> query = queryString;
        foreach (Range range in query.Split('&'))
        {
            var parameter = query[range];
            int equals = parameter.IndexOf('=');
            var name = Decode(equals < 0 ? parameter : parameter[..equals]);
            if (name.Length > 0)
            {
                parameters.TryAdd(name, equals < 0 ? string.Empty : Decode(parameter[(equals + 1)..]));
            }
        }

        return parameters;
    }

    private static string Decode(ReadOnlySpan<char> encoded) =>
        encoded.IsEmpty ? string.Empty : WebUtility.UrlDecode(encoded.ToString());

    private static IReadOnlyDictionary<string, string> ParseCookies(HttpHeaderCollection headers)
    {
        Dictionary<string, string>? cookies = null;
        foreach (var (fieldName, fieldValue) in headers)
        {
            if (!StringComparer.OrdinalIgnoreCase.Equals(fieldName, "Cookie"))
            {
                continue;
            }

            ReadOnlySpan<char> value = fieldValue;
            foreach (Range range in value.Split(';'))
            {
                var pair = value[range];
                int equals = pair.IndexOf('=');
                if (equals < 0)
                {
                    continue;
                }

                var name = pair[..equals].Trim(HttpSyntax.Whitespace);
                var cookieValue = pair[(equals + 1)..].Trim(HttpSyntax.Whitespace);
                if (cookieValue.Length >= 2 && cookieValue[0] == '"' && cookieValue[^1] == '"')
                {
                    cookieValue = cookieValue[1..^1];
                }

                if (!name.IsEmpty)
                {
                    cookies ??= new Dictionary<string, string>(StringComparer.Ordinal);
                    cookies.TryAdd(name.ToString(), cookieValue.ToString());
                }
            }
        }

        return cookies is null ? ReadOnlyDictionary<string, string>.Empty : cookies;
    }
}
