using System.Net;
using Tern.Chat.Web;

namespace Tern.Chat.Tests.Web;

/// <summary>The page and the API carry the security headers.</summary>
public sealed class PageHeadersTests : WebServerTest
{
    [Theory]
    [InlineData("/")]
    [InlineData("/app.js")]
    [InlineData("/no-such-file")]
    [InlineData("/api/session")]
    public async Task Every_response_carries_the_security_headers(string path)
    {
        using HttpResponseMessage response = await Server.GetAsync(path);

        Assert.Equal(ChatWebOptions.DefaultContentSecurityPolicy, Header(response, "Content-Security-Policy"));
        Assert.Equal("DENY", Header(response, "X-Frame-Options"));
        Assert.Equal("no-referrer", Header(response, "Referrer-Policy"));
        Assert.Equal("nosniff", Header(response, "X-Content-Type-Options"));
    }

    [Fact]
    public async Task The_page_is_served_with_its_policy()
    {
        using HttpResponseMessage response = await Server.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        string csp = Header(response, "Content-Security-Policy");
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self'", csp, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_not_modified_answer_keeps_the_policy_and_sends_nosniff_once()
    {
        using HttpResponseMessage first = await Server.GetAsync("/");
        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.TryAddWithoutValidation("If-None-Match", first.Headers.ETag!.ToString());

        using HttpResponseMessage again = await Server.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        Assert.Equal("nosniff", Header(again, "X-Content-Type-Options"));
        Assert.Equal("nosniff", Header(first, "X-Content-Type-Options"));
        Assert.NotNull(Header(again, "Content-Security-Policy"));
    }

    [Fact]
    public void Headers_already_present_are_not_repeated()
    {
        var response = new Tern.Http.HttpResponse(200);
        response.Headers.Add(new("x-content-type-options", "nosniff"));
        PageHeaders.Add(response, "default-src 'none'");
        PageHeaders.Add(response, "default-src 'none'");
        Assert.Equal(4, response.Headers.Count);
    }

    private static string Header(HttpResponseMessage response, string name)
    {
        IEnumerable<string>? values = response.Headers.TryGetValues(name, out var found) ? found
            : response.Content.Headers.TryGetValues(name, out found) ? found : null;
        return Assert.Single(values ?? []);
    }
}
