using System.Text.Json;
using Microsoft.Playwright;
using Tern.Chat.Hub;
using Tern.Chat.Tests.Support;
using static Microsoft.Playwright.Assertions;

namespace Tern.Chat.Tests.Browser;

/// <summary>Bugs a new user found, each reproduced in the page as they met it.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ChatBugTests(BrowserFixture browser) : IAsyncLifetime
{
    private readonly List<ChatPage> _pages = [];
    private ChatServer? _server;

    private ChatServer Server => _server ?? throw new InvalidOperationException("Start the server first.");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (ChatPage page in _pages)
        {
            await page.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Switching_rooms_while_rate_limited_moves_the_page_and_loses_no_message()
    {
        // A small limit, so that a short burst runs into it.
        await StartServerAsync(o => (o.RateLimitCount, o.RateLimitWindow) = (5, TimeSpan.FromSeconds(2)));
        ChatPage alice = await OpenAsync();
        ChatPage bob = await OpenAsync();
        await alice.JoinAsync("alice");
        await bob.JoinAsync("bob");

        string[] burst = Enumerable.Range(1, 10).Select(i => $"burst {i}").ToArray();
        await alice.SayManyAsync(burst);
        await alice.SwitchRoomAsync("random");

        // The page and the server agree: Alice is in #random only, and can talk there.
        await Expect(alice.People).ToHaveTextAsync(["alice"]);
        await Expect(bob.People).ToHaveTextAsync(["bob"]);
        await alice.SayAsync("hello random");
        await Expect(alice.Messages).ToHaveTextAsync(["hello random"]);

        // What she typed before going was sent, in order, not dropped.
        await Expect(bob.Messages).ToHaveTextAsync(burst);
        await Expect(alice.PendingMessages).ToHaveCountAsync(0);
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task Messages_sent_into_the_rate_limit_arrive_and_are_stored_in_the_order_typed()
    {
        await StartServerAsync(o => (o.RateLimitCount, o.RateLimitWindow) = (20, TimeSpan.FromSeconds(4)));
        ChatPage alice = await OpenAsync();
        ChatPage bob = await OpenAsync();
        await alice.JoinAsync("alice");
        await bob.JoinAsync("bob");

        string[] typed = Enumerable.Range(1, 30).Select(i => $"m{i}").ToArray();
        await alice.SayManyAsync(typed);

        // The last ten wait for the window to slide on.
        await Expect(bob.Messages).ToHaveTextAsync(typed, new() { Timeout = 15_000 });
        await Expect(alice.Messages).ToHaveTextAsync(typed);
        await Expect(alice.PendingMessages).ToHaveCountAsync(0);

        // The stored history has the same order.
        await bob.Page.ReloadAsync();
        await bob.WaitUntilInRoomAsync();
        await Expect(bob.Messages).ToHaveTextAsync(typed);

        // The order above depends on when the sliding window frees a slot, so a page that sends several at once
        // passes it most of the time; what keeps the order always is one message in flight at a time.
        AssertOneMessageInFlightAtATime(alice);
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task On_a_phone_the_disconnected_banner_leaves_the_people_button_in_the_header()
    {
        await StartServerAsync();
        ChatPage phone = await OpenAsync(width: 390, height: 844, isMobile: true);
        await phone.JoinAsync("bob");

        await Server.StopAsync();
        await Expect(phone.Page.Locator("#connection-text")).ToContainTextAsync("Disconnected");
        await Expect(phone.Page.Locator("#retry-now")).ToBeVisibleAsync();

        LocatorBoundingBoxResult header = await BoxAsync(phone.Page.Locator(".topbar"));
        foreach (string selector in new[] { "#people-toggle", "#rooms-toggle", "#connection" })
        {
            LocatorBoundingBoxResult box = await BoxAsync(phone.Page.Locator(selector));
            Assert.True(
                box.X >= header.X && box.X + box.Width <= header.X + header.Width && box.X + box.Width <= 390,
                $"{selector} spans x {box.X:0.#} to {box.X + box.Width:0.#}; the header spans {header.X:0.#} to {header.X + header.Width:0.#} on a 390 px screen.");
        }

        await Expect(phone.Page.Locator("#people-toggle")).ToBeInViewportAsync(new() { Ratio = 1 });
        await phone.ScreenshotAsync(Path.Combine(browser.ScreenshotDirectory, "phone-disconnected.png"));
        await Server.StartAgainAsync();
        await phone.WaitUntilInRoomAsync();
    }

    [Fact]
    public async Task Room_member_counts_change_together_with_the_people_list()
    {
        // The default delay of the pushed room list, which the other tests shorten.
        await StartServerAsync(o => o.RoomListDelay = TimeSpan.FromSeconds(1));
        ChatPage alice = await OpenAsync();
        ChatPage bob = await OpenAsync();
        await alice.JoinAsync("alice");
        await Expect(alice.RoomButtons).ToHaveTextAsync(["#general1"]);

        await bob.JoinAsync("bob");
        await Expect(alice.People).ToHaveTextAsync(["alice", "bob"]);
        // Well under the room list's delay: the count must agree with the people list already.
        await Expect(alice.RoomButtons).ToHaveTextAsync(["#general2"], new() { Timeout = 300 });
        await Expect(bob.RoomButtons).ToHaveTextAsync(["#general2"], new() { Timeout = 300 });

        await bob.Page.ClickAsync("#leave-button");
        await Expect(alice.People).ToHaveTextAsync(["alice"]);
        await Expect(alice.RoomButtons).ToHaveTextAsync(["#general1"], new() { Timeout = 300 });
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task A_server_restart_shows_no_join_notices_for_people_coming_back()
    {
        await StartServerAsync();
        ChatPage alice = await OpenAsync();
        ChatPage bob = await OpenAsync();
        await alice.JoinAsync("alice");
        await bob.JoinAsync("bob");
        await Expect(alice.JoinNotices).ToHaveTextAsync([new System.Text.RegularExpressions.Regex("You joined"), new System.Text.RegularExpressions.Regex("bob joined")]);
        await Expect(bob.JoinNotices).ToHaveCountAsync(1);

        await Server.StopAsync();
        await Expect(alice.Connection).Not.ToHaveAttributeAsync("data-state", "online");
        await Expect(bob.Connection).Not.ToHaveAttributeAsync("data-state", "online");
        await Server.StartAgainAsync();
        await alice.WaitUntilInRoomAsync();
        await bob.WaitUntilInRoomAsync();

        // A message each way: both rejoins, and anything they announced, have reached both pages before these.
        await bob.SayAsync("back from bob");
        await Expect(alice.Messages).ToHaveTextAsync(["back from bob"]);
        await alice.SayAsync("back from alice");
        await Expect(bob.Messages).ToHaveTextAsync(["back from bob", "back from alice"]);

        await Expect(alice.People).ToHaveTextAsync(["alice", "bob"]);
        await Expect(bob.People).ToHaveTextAsync(["alice", "bob"]);
        await Expect(alice.JoinNotices).ToHaveCountAsync(2);
        await Expect(bob.JoinNotices).ToHaveCountAsync(1);
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task Opening_a_private_message_keeps_the_last_message_in_view()
    {
        await StartServerAsync();
        ChatPage alice = await OpenAsync();
        ChatPage bob = await OpenAsync();
        await alice.JoinAsync("alice");
        await bob.JoinAsync("bob");

        // Enough lines to scroll, in few messages (under the rate limit).
        string[] lines = Enumerable.Range(1, 12).Select(i => $"line {i}\nsecond line\nthird line\nfourth line").ToArray();
        await bob.SayManyAsync(lines);
        await Expect(alice.Messages).ToHaveCountAsync(lines.Length);
        ILocator last = alice.Page.Locator("#messages .msg").Last;
        await Expect(last).ToBeInViewportAsync(new() { Ratio = 1 });

        await alice.StartPrivateMessageAsync("bob");
        await Expect(alice.Page.Locator("#pm-target")).ToBeVisibleAsync();
        await Expect(last).ToBeInViewportAsync(new() { Ratio = 1 });
        LocatorBoundingBoxResult message = await BoxAsync(last);
        LocatorBoundingBoxResult composer = await BoxAsync(alice.Page.Locator("#composer"));
        Assert.True(message.Y + message.Height <= composer.Y, $"The last message ends at y {message.Y + message.Height:0.#}, below the composer's top at {composer.Y:0.#}.");
        AssertNoErrors(alice, bob);
    }

    private async Task StartServerAsync(Action<ChatHubOptions>? configure = null) => _server = await ChatServer.StartAsync(configure);

    private async Task<ChatPage> OpenAsync(int width = 1280, int height = 800, bool isMobile = false)
    {
        ChatPage page = await ChatPage.OpenAsync(browser.Browser, Server.Url, width, height, isMobile);
        _pages.Add(page);
        return page;
    }

    private static async Task<LocatorBoundingBoxResult> BoxAsync(ILocator locator) =>
        await locator.BoundingBoxAsync() ?? throw new InvalidOperationException($"{locator} is not visible.");

    /// <summary>Each say or private message is sent only after the previous one was answered (echoed or refused).</summary>
    private static void AssertOneMessageInFlightAtATime(ChatPage page)
    {
        Assert.Contains(page.Frames, f => f.Sent && f.Text.Contains("\"say\"", StringComparison.Ordinal));
        string? inFlight = null;
        foreach ((bool sent, string text) in page.Frames)
        {
            using var json = JsonDocument.Parse(text);
            JsonElement root = json.RootElement;
            string type = root.GetProperty("type").GetString()!;
            string? reference = root.TryGetProperty("ref", out JsonElement r) ? r.GetString() : null;
            if (sent && type is "say" or "private")
            {
                Assert.True(inFlight is null, $"The page sent '{root.GetProperty("text").GetString()}' while {inFlight} was still unanswered.");
                inFlight = reference;
            }
            else if (!sent && type is "message" or "private" or "error" && reference is not null && reference == inFlight)
            {
                inFlight = null;
            }
            else if (!sent && type == "hello")
            {
                inFlight = null; // a new connection: what was in flight is sent again after the rejoin
            }
        }
    }

    private static void AssertNoErrors(params ChatPage[] pages)
    {
        foreach (ChatPage page in pages)
        {
            Assert.Empty(page.PageErrors);
            Assert.Empty(page.ConsoleErrors);
        }
    }
}
