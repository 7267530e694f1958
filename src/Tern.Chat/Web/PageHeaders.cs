using Tern.Http;

namespace Tern.Chat.Web;

/// <summary>
/// The security headers of every response: the content security policy (only the page's own scripts, styles and
/// WebSocket; no framing, no foreign form targets), <c>X-Frame-Options: DENY</c> for browsers without
/// <c>frame-ancestors</c>, <c>Referrer-Policy: no-referrer</c> and <c>X-Content-Type-Options: nosniff</c>.
/// </summary>
public static class PageHeaders
{
    /// <summary>Adds the headers to a response, leaving any it already has (StaticFileResponder sets nosniff itself).</summary>
    public static void Add(HttpResponse response, string contentSecurityPolicy)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(contentSecurityPolicy);
        AddIfMissing(response, "Content-Security-Policy", contentSecurityPolicy);
        AddIfMissing(response, "X-Frame-Options", "DENY");
        AddIfMissing(response, "Referrer-Policy", "no-referrer");
        AddIfMissing(response, "X-Content-Type-Options", "nosniff");
    }

    private static void AddIfMissing(HttpResponse response, string name, string value)
    {
        foreach (KeyValuePair<string, string> header in response.Headers)
        {
            if (header.Key.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return;
            }
        }

        response.Headers.Add(new(name, value));
    }
}
