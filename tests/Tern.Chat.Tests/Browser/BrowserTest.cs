using Tern.Chat.Hub;
using Tern.Chat.Tests.Support;
using static Microsoft.Playwright.Assertions;

namespace Tern.Chat.Tests.Browser;

/// <summary>
/// What every browser test class shares: a real Tern.Chat on a loopback port with its own database, pages that are
/// closed after the test, and the check that no page had a script error or a dialog.
/// </summary>
public abstract class BrowserTest(BrowserFixture browser) : IAsyncLifetime
{
    private readonly List<ChatPage> _pages = [];

    protected BrowserFixture Browser { get; } = browser;

    protected ChatServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await ChatServer.StartAsync(ConfigureHub, tls: UseTls);

    /// <summary>Whether this class's server serves https and wss (a self-signed test certificate the browser is told to accept).</summary>
    protected virtual bool UseTls => false;

    public async Task DisposeAsync()
    {
        foreach (ChatPage page in _pages)
        {
            await page.DisposeAsync();
        }

        await Server.DisposeAsync();
    }

    /// <summary>Stops this test's server and starts a new one (new database, new port) with <see cref="ConfigureHub"/>.</summary>
    protected async Task RestartServerAsync()
    {
        await Server.DisposeAsync();
        Server = await ChatServer.StartAsync(ConfigureHub, tls: UseTls);
    }

    /// <summary>Hub options for this class's server (e.g. a higher rate limit to seed many messages).</summary>
    protected virtual void ConfigureHub(ChatHubOptions options)
    {
    }

    protected async Task<ChatPage> OpenAsync(int width = 1280, int height = 800, bool isMobile = false)
    {
        ChatPage page = await ChatPage.OpenAsync(Browser.Browser, Server.Url, width, height, isMobile);
        _pages.Add(page);
        return page;
    }

    /// <summary>A new person, signed up and connected.</summary>
    protected async Task<ChatPage> SignUpAsync(string username, string? displayName = null, int width = 1280, int height = 800, bool isMobile = false)
    {
        ChatPage page = await OpenAsync(width, height, isMobile);
        await page.SignUpAsync(username, displayName: displayName);
        return page;
    }

    /// <summary>Alice and Bob, signed up (with display names if given) and both in one room; Bob's page has it open.</summary>
    protected async Task<(ChatPage Alice, ChatPage Bob)> AliceAndBobInAsync(string room, string? aliceName = null, string? bobName = null)
    {
        ChatPage alice = await SignUpAsync("alice", aliceName);
        ChatPage bob = await SignUpAsync("bob", bobName);
        await alice.JoinRoomAsync(room);
        await bob.JoinRoomAsync(room);
        return (alice, bob);
    }

    /// <summary>Alice and Bob, signed up; Alice has written to Bob directly, and Bob's sidebar lists the conversation.</summary>
    protected async Task<(ChatPage Alice, ChatPage Bob)> AliceWritesToBobAsync(string text)
    {
        ChatPage alice = await SignUpAsync("alice");
        ChatPage bob = await SignUpAsync("bob");
        await alice.OpenDirectAsync("bob");
        await alice.SayAsync(text);
        await Expect(bob.Conversation("alice")).ToBeVisibleAsync();
        return (alice, bob);
    }

    /// <summary>Another tab of the same person (same session cookie).</summary>
    protected async Task<ChatPage> OpenTabAsync(ChatPage person)
    {
        ChatPage tab = await person.OpenTabAsync();
        _pages.Add(tab);
        return tab;
    }

    protected string ScreenshotPath(string name) => Path.Combine(Browser.ScreenshotDirectory, name);

    protected static void AssertNoErrors(params ChatPage[] pages)
    {
        foreach (ChatPage page in pages)
        {
            Assert.Empty(page.PageErrors);
            Assert.Empty(page.ConsoleErrors);
        }
    }
}
