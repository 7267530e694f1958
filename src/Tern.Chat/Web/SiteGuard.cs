using System.Globalization;

namespace Tern.Chat.Web;

/// <summary>
/// Decides whether a request is for this chat (its <c>Host</c>) and comes from its page (its <c>Origin</c>), per
/// <see cref="ChatWebOptions.AllowedHosts"/> and <see cref="ChatWebOptions.AllowedOrigins"/>. Thread-safe.
/// </summary>
public sealed class SiteGuard
{
    private readonly bool _anyHost;
    private readonly HashSet<string> _hostNames = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _hostsWithPort = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _origins = new(StringComparer.OrdinalIgnoreCase);
    private readonly string _ownScheme;

    /// <summary>Reads the lists from the options.</summary>
    /// <exception cref="ArgumentException">An entry of <see cref="ChatWebOptions.AllowedOrigins"/> is not an origin.</exception>
    public SiteGuard(ChatWebOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _ownScheme = options.SecureCookies ? "https" : "http";
        foreach (string entry in options.AllowedHosts)
        {
            string host = entry.Trim();
            if (host == "*")
            {
                _anyHost = true;
            }
            else if (TrySplitHost(host, out string name, out int? port))
            {
                (port is null ? _hostNames : _hostsWithPort).Add(port is null ? name : WithPort(name, port.Value));
            }
            else
            {
                throw new ArgumentException($"'{entry}' is not a host name (name, name:port or [IPv6]).", nameof(options));
            }
        }

        foreach (string entry in options.AllowedOrigins)
        {
            _origins.Add(NormalizeOrigin(entry.Trim()) ?? throw new ArgumentException($"'{entry}' is not an origin such as https://chat.example.com.", nameof(options)));
        }
    }

    /// <summary>True when the <c>Host</c> header names a host this chat answers to.</summary>
    public bool IsAllowedHost(string? host)
    {
        if (_anyHost)
        {
            return true;
        }

        if (host is null || !TrySplitHost(host.Trim(), out string name, out int? port))
        {
            return false;
        }

        return _hostNames.Contains(name) || port is not null && _hostsWithPort.Contains(WithPort(name, port.Value));
    }

    /// <summary>
    /// True when <paramref name="origin"/> is the page's own — <paramref name="host"/> with <c>http</c>, or
    /// <c>https</c> when the chat is served over TLS — or a configured one. A missing or <c>null</c> origin is not
    /// allowed: browsers send one with every POST and WebSocket handshake.
    /// </summary>
    public bool IsAllowedOrigin(string? origin, string? host)
    {
        string? normalized = origin is null ? null : NormalizeOrigin(origin.Trim());
        if (normalized is null)
        {
            return false;
        }

        if (_origins.Contains(normalized))
        {
            return true;
        }

        return host is not null && string.Equals(NormalizeOrigin($"{_ownScheme}://{host.Trim()}"), normalized, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// <c>scheme://host:port</c> in lower case with the port always written, or null when the text is not an http(s)
    /// origin (a path, query, user info or anything but a scheme, host and port).
    /// </summary>
    internal static string? NormalizeOrigin(string origin)
    {
        if (!Uri.TryCreate(origin, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https")
            || uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.AbsolutePath != "/"
            || origin.EndsWith('/'))
        {
            return null;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{uri.Scheme}://{uri.Host.ToLowerInvariant()}:{uri.Port}");
    }

    /// <summary>Splits <c>name</c>, <c>name:port</c>, <c>[v6]</c> or <c>[v6]:port</c>; false for anything else.</summary>
    private static bool TrySplitHost(string host, out string name, out int? port)
    {
        name = string.Empty;
        port = null;
        string portText;
        if (host.StartsWith('['))
        {
            int close = host.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                return false;
            }

            name = host[..(close + 1)];
            portText = host[(close + 1)..];
            if (portText.Length > 0 && portText[0] != ':')
            {
                return false;
            }

            portText = portText.Length > 0 ? portText[1..] : string.Empty;
        }
        else
        {
            int colon = host.LastIndexOf(':');
            name = colon < 0 ? host : host[..colon];
            portText = colon < 0 ? string.Empty : host[(colon + 1)..];
            if (colon >= 0 && portText.Length == 0)
            {
                return false;
            }
        }

        name = name.TrimEnd('.'); // "localhost." is "localhost"
        if (name.Length == 0 || Uri.CheckHostName(name.Trim('[', ']')) == UriHostNameType.Unknown)
        {
            return false;
        }

        if (portText.Length > 0)
        {
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value is < 1 or > 65535)
            {
                return false;
            }

            port = value;
        }

        return true;
    }

    private static string WithPort(string name, int port) => string.Create(CultureInfo.InvariantCulture, $"{name}:{port}");
}
