using static Microsoft.Playwright.Assertions;

namespace Tern.Chat.Tests.Browser;

/// <summary>The chat with --cert/--key in headless Chromium: the page over https and its socket over wss, on one port.</summary>
[Collection(BrowserCollection.Name)]
public sealed class TlsBrowserTests(BrowserFixture browser) : BrowserTest(browser)
{
    protected override bool UseTls => true;

    [Fact]
    public async Task Page_over_https_and_socket_over_wss_carry_a_conversation()
    {
        Assert.Equal("https", Server.Url.Scheme);
        (ChatPage alice, ChatPage bob) = await AliceAndBobInAsync("secure");
        await alice.SayAsync("over TLS");
        await Expect(bob.Messages).ToHaveTextAsync(["over TLS"]);
        await bob.SayAsync("both ways");
        await Expect(alice.Messages).ToHaveTextAsync(["over TLS", "both ways"]);

        Assert.StartsWith("https://", alice.Page.Url);
        string socket = Assert.Single(alice.SocketUrls.Distinct());
        Assert.Equal($"wss://127.0.0.1:{Server.Port}/chat", socket);
        AssertNoErrors(alice, bob);
    }
}
