using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tern.Protocol;

namespace Tern.Chat.Web;

/// <summary>
/// Works out whose request it is: the TCP peer's address, or, when the peer is one of the trusted reverse proxies, the
/// client address those proxies recorded in <c>X-Forwarded-For</c> (the semantics of ASP.NET Core's forwarded headers
/// with known proxies and networks). The HTTP API (sign-in and sign-up throttles) and the chat socket (the hub's
/// per-address limits) both ask here, so one request always gets one address. Thread-safe.
/// </summary>
/// <remarks>
/// Each proxy appends the address it received the request from, so the list is read from the right: entries that are
/// themselves trusted proxies are skipped and the first other one is the client. Everything left of it was written by
/// the client and is never read: a client cannot choose its address, neither by forging entries nor by sending
/// garbage. When the entries a trusted proxy wrote are missing or unusable, the peer's own address is used.
/// </remarks>
public sealed class ClientAddresses
{
    /// <summary>The header proxies record the client's address in.</summary>
    public const string ForwardedForHeader = "X-Forwarded-For";

    /// <summary>
    /// Most entries read from the right of <see cref="ForwardedForHeader"/>: a chain of more trusted proxies than this
    /// is not a real deployment, and the peer's address is used instead.
    /// </summary>
    public const int MaxForwardedEntries = 20;

    /// <summary>The key of the client's <see cref="IPAddress"/> in a handshake's (and so its connection's) items.</summary>
    public const string ItemsKey = "Tern.Chat.ClientAddress";

    private readonly IPNetwork[] _trusted;
    private readonly ILogger _logger;

    /// <summary>Trusts the proxies at these addresses and networks.</summary>
    /// <param name="trustedProxies">Addresses (<c>127.0.0.1</c>, <c>::1</c>) and CIDR networks (<c>10.0.0.0/8</c>, <c>fd00::/8</c>); empty trusts no one, and forwarded headers are ignored.</param>
    /// <param name="logger">Where unusable forwarded headers from trusted proxies are noted, at Debug.</param>
    /// <exception cref="ArgumentException">An entry is neither an address nor a network; the message names it.</exception>
    public ClientAddresses(IEnumerable<string> trustedProxies, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(trustedProxies);
        _trusted = [.. trustedProxies.Select(entry => TryParseTrustedProxy(entry, out IPNetwork network)
            ? network
            : throw new ArgumentException(DescribeBadEntry(entry), nameof(trustedProxies)))];
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The trusted proxies' networks (a single address is a /32 or /128), IPv4-mapped entries as IPv4.</summary>
    public IReadOnlyList<IPNetwork> TrustedProxies => _trusted;

    /// <summary>
    /// Reads one trusted-proxy entry: an IPv4 or IPv6 address, or a CIDR network whose address has no bits set past its
    /// prefix. IPv4-mapped IPv6 entries become IPv4 ones, since peers are compared as IPv4 too.
    /// </summary>
    public static bool TryParseTrustedProxy(string? entry, out IPNetwork network)
    {
        network = default;
        string text = entry?.Trim() ?? string.Empty;
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (!TryParseAddress(slash < 0 ? text : text[..slash], out IPAddress? address))
        {
            return false;
        }

        int prefix = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (slash >= 0)
        {
            // Digits only after the slash; and 10.1.2.3/8 is refused, not read as 10.0.0.0/8: 10.1.2.3/32 may have been meant.
            if (!int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _)
                || !IPNetwork.TryParse(text, out network) || !network.BaseAddress.Equals(address))
            {
                return false;
            }

            prefix = network.PrefixLength;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            if (prefix < 96)
            {
                return false; // wider than the mapped range: not an IPv4 network
            }

            address = address.MapToIPv4();
            prefix -= 96;
        }

        network = new IPNetwork(address, prefix);
        return true;
    }

    /// <summary>The start-up error for a bad entry: which one, and what was expected.</summary>
    public static string DescribeBadEntry(string? entry) =>
        $"'{entry}' is not a trusted proxy: give an IP address (10.0.0.5, ::1) or a network (10.0.0.0/8, fd00::/8, with no address bits set past the prefix).";

    /// <summary>Whether <paramref name="address"/> is one of the trusted proxies (an IPv4-mapped address as its IPv4 address).</summary>
    public bool IsTrusted(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        address = Normalize(address);
        foreach (IPNetwork network in _trusted)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The client's address for a request from <paramref name="peer"/> with <paramref name="headers"/>: the peer's own
    /// unless it is a trusted proxy, then the rightmost <c>X-Forwarded-For</c> entry that is not a trusted proxy (the
    /// header's lines read as one comma-separated list; ports allowed, <c>1.2.3.4:5678</c>, <c>[::1]:80</c>). An
    /// IPv4-mapped address is given as its IPv4 address, so one client has one address whichever way it came.
    /// </summary>
    public IPAddress Resolve(IPAddress peer, HttpHeaderCollection headers)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(headers);
        peer = Normalize(peer);
        if (_trusted.Length == 0 || !IsTrusted(peer))
        {
            return peer;
        }

        IReadOnlyList<string> lines = headers.GetValues(ForwardedForHeader);
        string? problem = lines.Count == 0 ? "no X-Forwarded-For" : null;
        int read = 0;
        for (int line = lines.Count - 1; line >= 0 && problem is null; line--)
        {
            ReadOnlySpan<char> rest = lines[line];
            while (problem is null)
            {
                int comma = rest.LastIndexOf(',');
                ReadOnlySpan<char> entry = rest[(comma + 1)..].Trim(" \t");
                if (++read > MaxForwardedEntries)
                {
                    problem = $"more than {MaxForwardedEntries} trusted proxies";
                }
                else if (!TryParseForwardedEntry(entry, out IPAddress? address))
                {
                    problem = "an entry is not an IP address";
                }
                else if (!IsTrusted(address))
                {
                    return address;
                }
                else if (comma < 0)
                {
                    break;
                }
                else
                {
                    rest = rest[..comma];
                }
            }
        }

        // Every entry a trusted proxy, or a proxy that forwards without recording its client: a misconfiguration, not an
        // attack (only trusted proxies' entries were read), so noted where someone setting up the proxy will look.
        _logger.LogDebug("X-Forwarded-For from the trusted proxy {Peer} gives no client address ({Problem}); the proxy's address is used",
            peer, problem ?? "every entry is a trusted proxy");
        return peer;
    }

    /// <summary>The client's address left in a connection's items by the handshake check, or null.</summary>
    public static IPAddress? From(IDictionary<string, object?> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        return items.TryGetValue(ItemsKey, out object? value) ? value as IPAddress : null;
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>An <c>X-Forwarded-For</c> entry: an address, with or without a port (<c>1.2.3.4:80</c>, <c>[::1]:80</c>, <c>[::1]</c>).</summary>
    private static bool TryParseForwardedEntry(ReadOnlySpan<char> entry, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        ReadOnlySpan<char> host = entry;
        int portStart = -1; // where the port begins after its colon, if there is one
        if (entry.StartsWith('['))
        {
            int close = entry.IndexOf(']');
            if (close < 0 || (close + 1 < entry.Length && entry[close + 1] != ':'))
            {
                return false;
            }

            host = entry[1..close];
            portStart = close + 1 < entry.Length ? close + 2 : -1;
            if (host.IndexOf(':') < 0)
            {
                return false; // brackets are for IPv6 only
            }
        }
        else if (entry.Count(':') == 1)
        {
            int colon = entry.IndexOf(':');
            host = entry[..colon];
            portStart = colon + 1;
        }

        if (portStart >= 0 && !ushort.TryParse(entry[portStart..], NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return false;
        }

        if (!TryParseAddress(host, out IPAddress? parsed))
        {
            return false;
        }

        address = Normalize(parsed);
        return true;
    }

    /// <summary>
    /// An IPv6 address, or an IPv4 address in its dotted-quad form only: <see cref="IPAddress.TryParse(string?, out IPAddress?)"/>
    /// also reads "1" as 0.0.0.1 and "127.1" as 127.0.0.1, which no proxy writes.
    /// </summary>
    private static bool TryParseAddress(ReadOnlySpan<char> text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (text.IndexOf(':') < 0 && (text.Count('.') != 3 || text.ContainsAnyExcept("0123456789.")))
        {
            return false;
        }

        return IPAddress.TryParse(text, out address);
    }
}
