using System.Globalization;

namespace Tern.Chat.Web;

/// <summary>
/// The session cookie: <c>tern_session=&lt;token&gt;; Path=/; Max-Age=…; HttpOnly; SameSite=Lax</c> (+ <c>Secure</c>).
/// HttpOnly keeps the token away from scripts (an injected script cannot steal it); SameSite=Lax keeps browsers from
/// sending it with other sites' POSTs and WebSocket handshakes.
/// </summary>
public static class SessionCookie
{
    /// <summary>The cookie's name.</summary>
    public const string Name = "tern_session";

    /// <summary>The <c>Set-Cookie</c> value that stores a token for <paramref name="maxAge"/>.</summary>
    public static string Issue(string token, TimeSpan maxAge, bool secure)
    {
        ArgumentNullException.ThrowIfNull(token);
        long seconds = Math.Max(0, (long)maxAge.TotalSeconds);
        return Format(token, seconds, secure);
    }

    /// <summary>The <c>Set-Cookie</c> value that removes the cookie.</summary>
    public static string Clear(bool secure) => Format(string.Empty, 0, secure);

    /// <summary>The token the request carries, or null.</summary>
    public static string? Read(IReadOnlyDictionary<string, string> cookies)
    {
        ArgumentNullException.ThrowIfNull(cookies);
        return cookies.TryGetValue(Name, out string? token) && token.Length > 0 ? token : null;
    }

    private static string Format(string value, long maxAgeSeconds, bool secure) =>
        string.Create(CultureInfo.InvariantCulture, $"{Name}={value}; Path=/; Max-Age={maxAgeSeconds}; HttpOnly; SameSite=Lax{(secure ? "; Secure" : "")}");
}
