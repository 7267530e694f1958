using Tern.Chat.Accounts;

namespace Tern.Chat.Web;

/// <summary>Settings of <see cref="ChatWeb"/>: who may talk to the chat, the session cookie, and the accounts.</summary>
public sealed class ChatWebOptions
{
    /// <summary>The page's security policy: its own scripts, styles, images and WebSocket only; never framed.</summary>
    public const string DefaultContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; manifest-src 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    /// <summary>
    /// Host names the chat answers to (the <c>Host</c> header, compared without case): a name alone matches any port,
    /// <c>name:port</c> one port; IPv6 addresses in brackets (<c>[::1]</c>); <c>*</c> answers to any host. Requests for
    /// another host get 400 — the defence against DNS rebinding, where a hostile page makes its own host name point at
    /// this server. Default: the loopback names <c>localhost</c>, <c>127.0.0.1</c> and <c>[::1]</c>; a chat served under
    /// a public name must list it.
    /// </summary>
    public IReadOnlyList<string> AllowedHosts { get; set; } = ["localhost", "127.0.0.1", "[::1]"];

    /// <summary>
    /// Origins allowed besides the page's own (<c>scheme://host[:port]</c>, e.g. <c>https://chat.example.com</c>). The
    /// page's own origin is the request's <c>Host</c> with <c>http</c>, or <c>https</c> when <see cref="SecureCookies"/>
    /// is set; list the public origin here when a proxy changes the <c>Host</c> header. Default none.
    /// </summary>
    public IReadOnlyList<string> AllowedOrigins { get; set; } = [];

    /// <summary>
    /// The chat is served over TLS (usually by a proxy in front): the session cookie is marked <c>Secure</c>, and the
    /// page's own origin is <c>https://</c>. Default false.
    /// </summary>
    public bool SecureCookies { get; set; }

    /// <summary>
    /// Reverse proxies whose <c>X-Forwarded-For</c> names the client: addresses (<c>127.0.0.1</c>) and CIDR networks
    /// (<c>10.0.0.0/8</c>, <c>fd00::/8</c>). A request from one of them counts against the per-address limits of the
    /// client the proxies recorded; from any other peer the header is ignored (see <see cref="ClientAddresses"/>).
    /// Default none: every client is its TCP peer.
    /// </summary>
    public IReadOnlyList<string> TrustedProxies { get; set; } = [];

    /// <summary>The <c>Content-Security-Policy</c> of every response. Default <see cref="DefaultContentSecurityPolicy"/>.</summary>
    public string ContentSecurityPolicy { get; set; } = DefaultContentSecurityPolicy;

    /// <summary>Sessions, throttling and password hashing.</summary>
    public AccountOptions Accounts { get; set; } = new();
}
