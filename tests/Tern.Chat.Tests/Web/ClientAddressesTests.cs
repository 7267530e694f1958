using System.Net;
using Tern.Chat.Tests.Support;
using Tern.Chat.Web;
using Tern.Protocol;

namespace Tern.Chat.Tests.Web;

/// <summary>Who a request is from: the TCP peer, or the client a trusted proxy recorded in X-Forwarded-For.</summary>
public sealed class ClientAddressesTests
{
    private const string LocalProxies = "127.0.0.1,10.0.0.0/8,fd00::/8,::1";

    [Theory]
    // Nothing trusted (the default): the header is ignored, whatever it says.
    [InlineData("", "127.0.0.1", "203.0.113.7", "127.0.0.1")]
    // An untrusted peer cannot choose its address.
    [InlineData(LocalProxies, "198.51.100.1", "203.0.113.7", "198.51.100.1")]
    [InlineData(LocalProxies, "198.51.100.1", null, "198.51.100.1")]
    // A trusted peer: the entry it appended.
    [InlineData(LocalProxies, "127.0.0.1", "203.0.113.7", "203.0.113.7")]
    [InlineData(LocalProxies, "10.1.2.3", "203.0.113.7", "203.0.113.7")]
    [InlineData(LocalProxies, "fd00::5", "2001:db8::1", "2001:db8::1")]
    [InlineData(LocalProxies, "::1", "203.0.113.7", "203.0.113.7")]
    // An IPv4-mapped IPv6 peer matches the IPv4 entries; a mapped entry is given as IPv4.
    [InlineData(LocalProxies, "::ffff:127.0.0.1", "203.0.113.7", "203.0.113.7")]
    [InlineData(LocalProxies, "::ffff:10.9.9.9", "::ffff:203.0.113.7", "203.0.113.7")]
    [InlineData(LocalProxies, "::ffff:198.51.100.1", "203.0.113.7", "198.51.100.1")]
    // A chain of trusted proxies is walked from the right; the first untrusted entry is the client.
    [InlineData(LocalProxies, "127.0.0.1", "203.0.113.7, 10.0.0.2, 10.0.0.1", "203.0.113.7")]
    // Spoofed entries on the left (the client's own header, appended to by the proxy) are never read.
    [InlineData(LocalProxies, "127.0.0.1", "1.1.1.1, 127.0.0.1, 203.0.113.7", "203.0.113.7")]
    [InlineData(LocalProxies, "127.0.0.1", "garbage, <script>, 203.0.113.7", "203.0.113.7")]
    [InlineData(LocalProxies, "127.0.0.1", ", 203.0.113.7", "203.0.113.7")]
    // Ports are accepted, in both spellings.
    [InlineData(LocalProxies, "127.0.0.1", "203.0.113.7:5678", "203.0.113.7")]
    [InlineData(LocalProxies, "127.0.0.1", "[2001:db8::1]:80", "2001:db8::1")]
    [InlineData(LocalProxies, "127.0.0.1", "[2001:db8::1]", "2001:db8::1")]
    [InlineData(LocalProxies, "127.0.0.1", "  203.0.113.7  ", "203.0.113.7")]
    // Missing, empty or unusable where the trusted proxies wrote: the peer's address.
    [InlineData(LocalProxies, "127.0.0.1", null, "127.0.0.1")]
    [InlineData(LocalProxies, "127.0.0.1", "", "127.0.0.1")]
    [InlineData(LocalProxies, "127.0.0.1", "unknown", "127.0.0.1")]
    [InlineData(LocalProxies, "127.0.0.1", "203.0.113.7, ", "127.0.0.1")]
    [InlineData(LocalProxies, "127.0.0.1", "203.0.113.7, garbage, 10.0.0.1", "127.0.0.1")]
    [InlineData(LocalProxies, "127.0.0.1", "203.0.113.7:", "127.0.0.1")]
    [InlineData(LocalProxies, "127.0.0.1", "203.0.113.7:70000", "127.0.0.1")]
    [InlineData(LocalProxies, "127.0.0.1", "[203.0.113.7]:80", "127.0.0.1")]
    [InlineData(LocalProxies, "127.0.0.1", "[2001:db8::1]x", "127.0.0.1")]
    [InlineData(LocalProxies, "127.0.0.1", "2130706433", "127.0.0.1")] // 127.0.0.1 as IPAddress.Parse would also read it
    [InlineData(LocalProxies, "127.0.0.1", "127.1", "127.0.0.1")]
    // Every entry a trusted proxy: the peer's address.
    [InlineData(LocalProxies, "127.0.0.1", "10.0.0.3, 127.0.0.1", "127.0.0.1")]
    public void The_client_is_the_rightmost_untrusted_entry_from_a_trusted_peer(string trusted, string peer, string? forwardedFor, string expected)
    {
        var clients = new ClientAddresses(trusted.Split(',', StringSplitOptions.RemoveEmptyEntries));
        HttpHeaderCollection headers = forwardedFor is null ? HttpHeaderCollection.Empty : new([new("X-Forwarded-For", forwardedFor)]);

        Assert.Equal(IPAddress.Parse(expected), clients.Resolve(IPAddress.Parse(peer), headers));
    }

    [Fact]
    public void Several_header_lines_are_one_list_read_from_the_last_line()
    {
        var clients = new ClientAddresses(["127.0.0.1", "10.0.0.0/8"]);
        var headers = new HttpHeaderCollection([new("X-Forwarded-For", "1.1.1.1, 203.0.113.7"), new("Accept", "*/*"), new("x-forwarded-for", "10.0.0.2, 10.0.0.1")]);

        Assert.Equal(IPAddress.Parse("203.0.113.7"), clients.Resolve(IPAddress.Loopback, headers));
        // An empty line on the right is where a proxy should have written: unusable.
        var emptyLast = new HttpHeaderCollection([new("X-Forwarded-For", "203.0.113.7"), new("X-Forwarded-For", "")]);
        Assert.Equal(IPAddress.Loopback, clients.Resolve(IPAddress.Loopback, emptyLast));
    }

    [Fact]
    public void More_than_twenty_trusted_entries_give_the_peer()
    {
        var clients = new ClientAddresses(["10.0.0.0/8"]);
        string trustedHops(int count) => string.Join(", ", Enumerable.Range(1, count).Select(i => $"10.0.0.{i}"));

        Assert.Equal(IPAddress.Parse("203.0.113.7"), clients.Resolve(IPAddress.Parse("10.0.0.99"), Forwarded($"203.0.113.7, {trustedHops(ClientAddresses.MaxForwardedEntries - 1)}")));
        Assert.Equal(IPAddress.Parse("10.0.0.99"), clients.Resolve(IPAddress.Parse("10.0.0.99"), Forwarded($"203.0.113.7, {trustedHops(ClientAddresses.MaxForwardedEntries)}")));
        // A long list the client wrote itself is never read: only the entries right of the client's count.
        string longSpoof = string.Join(", ", Enumerable.Range(0, 500).Select(i => $"192.0.2.{i % 250}"));
        Assert.Equal(IPAddress.Parse("203.0.113.7"), clients.Resolve(IPAddress.Parse("10.0.0.99"), Forwarded($"{longSpoof}, 203.0.113.7")));
    }

    [Fact]
    public void An_unusable_header_from_a_trusted_proxy_is_noted_at_debug()
    {
        using var log = new CollectingLoggerProvider();
        var clients = new ClientAddresses(["127.0.0.1"], log.CreateLogger("test"));

        clients.Resolve(IPAddress.Loopback, Forwarded("garbage"));
        clients.Resolve(IPAddress.Parse("198.51.100.1"), Forwarded("garbage")); // not a proxy: nothing to say

        string line = Assert.Single(log.Lines);
        Assert.StartsWith("Debug ", line, StringComparison.Ordinal);
        Assert.Contains("not an IP address", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1", true)]
    [InlineData("127.0.0.1", "127.0.0.2", false)]
    [InlineData("10.0.0.0/8", "10.255.0.1", true)]
    [InlineData("10.0.0.0/8", "11.0.0.1", false)]
    [InlineData("10.0.0.0/8", "::ffff:10.1.1.1", true)]
    [InlineData("::ffff:10.0.0.0/104", "10.1.1.1", true)]
    [InlineData("::ffff:127.0.0.1", "127.0.0.1", true)]
    [InlineData("fd00::/8", "fd12::1", true)]
    [InlineData("fd00::/8", "fe80::1", false)]
    [InlineData("::1", "::1", true)]
    [InlineData("::1", "127.0.0.1", false)]
    [InlineData("0.0.0.0/0", "::1", false)]
    public void Entries_are_addresses_and_networks(string entry, string address, bool trusted) =>
        Assert.Equal(trusted, new ClientAddresses([entry]).IsTrusted(IPAddress.Parse(address)));

    [Theory]
    [InlineData("localhost")]
    [InlineData("10.0.0.1/8")] // bits past the prefix: 10.0.0.0/8 or 10.0.0.1/32 was meant?
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.0/")]
    [InlineData("10.0.0.0/-1")]
    [InlineData("10.0.0.0/x")]
    [InlineData("fd00::/129")]
    [InlineData("127.1")]
    [InlineData("::ffff:0:0/95")]
    [InlineData("")]
    public void Anything_else_is_refused_by_name(string entry)
    {
        ArgumentException error = Assert.Throws<ArgumentException>(() => new ClientAddresses(["127.0.0.1", entry]));

        Assert.Contains($"'{entry}'", error.Message, StringComparison.Ordinal);
    }

    private static HttpHeaderCollection Forwarded(string value) => new([new("X-Forwarded-For", value)]);
}
