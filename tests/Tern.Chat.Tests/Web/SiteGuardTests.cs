using Tern.Chat.Web;

namespace Tern.Chat.Tests.Web;

public sealed class SiteGuardTests
{
    [Theory]
    [InlineData("localhost", true)]
    [InlineData("LOCALHOST:8080", true)]
    [InlineData("localhost.:8080", true)]
    [InlineData("127.0.0.1:1", true)]
    [InlineData("[::1]:8080", true)]
    [InlineData("chat.example.com", true)]
    [InlineData("chat.example.com:443", true)]
    [InlineData("other.example.com", false)]
    [InlineData("fixed.example.com:8443", true)]
    [InlineData("fixed.example.com:8444", false)]
    [InlineData("fixed.example.com", false)]
    [InlineData("localhost.evil.example", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    [InlineData("localhost:", false)]
    [InlineData("localhost:99999", false)]
    [InlineData("[::1", false)]
    [InlineData("a b", false)]
    public void Hosts_are_matched_by_name_or_name_and_port(string? host, bool allowed)
    {
        var guard = new SiteGuard(new ChatWebOptions { AllowedHosts = ["localhost", "127.0.0.1", "[::1]", "chat.example.com", "fixed.example.com:8443"] });
        Assert.Equal(allowed, guard.IsAllowedHost(host));
    }

    [Theory]
    [InlineData("http://localhost:8080", "localhost:8080", true)]
    [InlineData("http://LocalHost:8080", "localhost:8080", true)]
    [InlineData("http://localhost", "localhost:80", true)] // the default port, written or not
    [InlineData("http://localhost:80", "localhost", true)]
    [InlineData("https://localhost:8080", "localhost:8080", false)] // the page is http
    [InlineData("http://localhost:8081", "localhost:8080", false)]
    [InlineData("http://evil.example", "localhost:8080", false)]
    [InlineData("https://chat.example.com", "127.0.0.1:8080", true)] // configured: a proxy changed the host
    [InlineData("null", "localhost:8080", false)]
    [InlineData("", "localhost:8080", false)]
    [InlineData(null, "localhost:8080", false)]
    [InlineData("http://localhost:8080/", "localhost:8080", false)] // an origin has no path
    [InlineData("http://user@localhost:8080", "localhost:8080", false)]
    [InlineData("file://localhost", "localhost", false)]
    public void Origins_must_be_the_pages_own_or_configured(string? origin, string? host, bool allowed)
    {
        var guard = new SiteGuard(new ChatWebOptions { AllowedOrigins = ["https://chat.example.com"] });
        Assert.Equal(allowed, guard.IsAllowedOrigin(origin, host));
    }

    [Fact]
    public void Over_tls_the_own_origin_is_https()
    {
        var guard = new SiteGuard(new ChatWebOptions { SecureCookies = true, AllowedHosts = ["*"] });
        Assert.True(guard.IsAllowedOrigin("https://chat.example.com", "chat.example.com"));
        Assert.False(guard.IsAllowedOrigin("http://chat.example.com", "chat.example.com"));
        Assert.True(guard.IsAllowedHost("anything.example"));
    }

    [Theory]
    [InlineData("chat.example.com/path")]
    [InlineData("not an origin")]
    public void Malformed_configured_origins_are_refused_at_start(string origin) =>
        Assert.Throws<ArgumentException>(() => new SiteGuard(new ChatWebOptions { AllowedOrigins = [origin] }));
}
