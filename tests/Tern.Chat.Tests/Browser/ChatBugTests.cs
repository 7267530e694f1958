using System.Text.Json;
using Microsoft.Playwright;
using Tern.Chat.Hub;
using static Microsoft.Playwright.Assertions;

namespace Tern.Chat.Tests.Browser;

/// <summary>
/// Six bugs a new user found on the nickname page, each kept as a test of the page that replaced it: the same
/// situation, the same promise (nothing typed is lost or reordered, the header fits a phone, counts agree with the
/// member list, a restart announces nothing, the last message stays in view).
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class ChatBugTests(BrowserFixture browser) : BrowserTest(browser)
{
    private Action<ChatHubOptions>? _configure;

    [Fact]
    public async Task Switching_conversations_while_rate_limited_moves_the_page_and_loses_no_message()
    {
        // A small limit, so that a short burst runs into it.
        await RestartWithAsync(o => (o.RateLimitCount, o.RateLimitWindow) = (5, TimeSpan.FromSeconds(2)));
        (ChatPage alice, ChatPage bob) = await AliceAndBobInAsync("general");
        await alice.JoinRoomAsync("random");
        await alice.OpenConversationAsync("general");

        string[] burst = Enumerable.Range(1, 10).Select(i => $"burst {i}").ToArray();
        await alice.SayManyAsync(burst);
        await alice.OpenConversationAsync("random");
        await Expect(alice.Title).ToHaveTextAsync("#random");
        await alice.SayAsync("hello random");
        await Expect(alice.Messages).ToHaveTextAsync(["hello random"], new() { Timeout = 15_000 });

        // What she typed before switching was sent, in order, not dropped; switching left no room.
        await Expect(bob.Messages).ToHaveTextAsync(burst, new() { Timeout = 15_000 });
        await Expect(bob.Members).ToHaveTextAsync(["alice", "bob"]);
        await alice.OpenConversationAsync("general");
        await Expect(alice.Messages).ToHaveTextAsync(burst);
        await Expect(alice.Pending).ToHaveCountAsync(0);
        AssertOneMessageInFlightAtATime(alice);
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task Messages_sent_into_the_rate_limit_arrive_and_are_stored_in_the_order_typed()
    {
        await RestartWithAsync(o => (o.RateLimitCount, o.RateLimitWindow) = (20, TimeSpan.FromSeconds(4)));
        (ChatPage alice, ChatPage bob) = await AliceAndBobInAsync("general");

        string[] typed = Enumerable.Range(1, 30).Select(i => $"m{i}").ToArray();
        foreach (string text in typed)
        {
            await alice.SayAsync(text);
        }

        // The last ten wait for the window to slide on.
        await Expect(bob.Messages).ToHaveTextAsync(typed, new() { Timeout = 15_000 });
        await Expect(alice.Messages).ToHaveTextAsync(typed);
        await Expect(alice.Pending).ToHaveCountAsync(0);

        // The stored history has the same order.
        await bob.Page.ReloadAsync();
        await bob.WaitUntilConnectedAsync();
        await Expect(bob.Messages).ToHaveTextAsync(typed);
        AssertOneMessageInFlightAtATime(alice);
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task On_a_phone_the_disconnected_state_leaves_every_header_button_on_screen()
    {
        ChatPage phone = await SignUpAsync("bob", width: 390, height: 844, isMobile: true);
        await phone.JoinRoomAsync("general");

        await Server.StopAsync();
        await Expect(phone.Page.Locator("#connection-text")).ToContainTextAsync("Disconnected");
        await Expect(phone.Page.Locator("#retry-now")).ToBeVisibleAsync();

        LocatorBoundingBoxResult header = await BoxAsync(phone.Page.Locator(".topbar"));
        foreach (string selector in new[] { "#sidebar-toggle", "#connection", "#menu-button" })
        {
            LocatorBoundingBoxResult box = await BoxAsync(phone.Page.Locator(selector));
            Assert.True(
                box.X >= header.X && box.X + box.Width <= header.X + header.Width && box.X + box.Width <= 390,
                $"{selector} spans x {box.X:0.#} to {box.X + box.Width:0.#}; the header spans {header.X:0.#} to {header.X + header.Width:0.#} on a 390 px screen.");
        }

        await Expect(phone.Page.Locator("#members-toggle")).ToBeInViewportAsync(new() { Ratio = 1 });
        await Expect(phone.Page.Locator("#menu-button")).ToBeInViewportAsync(new() { Ratio = 1 });
        int scrollWidth = await phone.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(scrollWidth <= 390, $"The page is {scrollWidth} px wide on a 390 px screen.");
        await phone.ScreenshotAsync(ScreenshotPath("phone-disconnected.png"));
        await Server.StartAgainAsync();
        await phone.WaitUntilConnectedAsync();
    }

    [Fact]
    public async Task Member_counts_change_together_with_the_member_list()
    {
        // The default delay of the pushed room directory, which the other tests shorten.
        await RestartWithAsync(o => o.RoomListDelay = TimeSpan.FromSeconds(1));
        ChatPage alice = await SignUpAsync("alice");
        ChatPage bob = await SignUpAsync("bob");
        await alice.JoinRoomAsync("general");
        await Expect(alice.Page.Locator("#conversation-subtitle")).ToHaveTextAsync("1 member");

        await bob.JoinRoomAsync("general");
        await Expect(alice.Members).ToHaveTextAsync(["alice", "bob"]);
        // Well under the directory's delay: the count must agree with the member list already.
        await Expect(alice.Page.Locator("#conversation-subtitle")).ToHaveTextAsync("2 members", new() { Timeout = 300 });
        await Expect(alice.Page.Locator("#members-count")).ToHaveTextAsync("2", new() { Timeout = 300 });
        await Expect(bob.Page.Locator("#conversation-subtitle")).ToHaveTextAsync("2 members", new() { Timeout = 300 });

        await bob.Page.ClickAsync("#leave-button");
        await Expect(bob.Conversation("general")).ToHaveCountAsync(0);
        await Expect(alice.Members).ToHaveTextAsync(["alice"]);
        await Expect(alice.Page.Locator("#conversation-subtitle")).ToHaveTextAsync("1 member", new() { Timeout = 300 });
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task A_server_restart_announces_no_one_joining_and_keeps_the_members()
    {
        (ChatPage alice, ChatPage bob) = await AliceAndBobInAsync("general");
        await Expect(alice.Members).ToHaveTextAsync(["alice", "bob"]);

        await Server.StopAsync();
        await Expect(alice.Connection).Not.ToHaveAttributeAsync("data-state", "online");
        await Expect(bob.Connection).Not.ToHaveAttributeAsync("data-state", "online");
        int framesBefore = alice.Frames.Count;
        await Server.StartAgainAsync();
        await alice.WaitUntilConnectedAsync();
        await bob.WaitUntilConnectedAsync();

        // A message each way: anything the reconnects announced has reached both pages before these.
        await bob.SayAsync("back from bob");
        await Expect(alice.Messages).ToHaveTextAsync(["back from bob"]);
        await alice.SayAsync("back from alice");
        await Expect(bob.Messages).ToHaveTextAsync(["back from bob", "back from alice"]);

        await Expect(alice.Members).ToHaveTextAsync(["alice", "bob"]);
        await Expect(bob.Members).ToHaveTextAsync(["alice", "bob"]);
        Assert.DoesNotContain(alice.Frames.Skip(framesBefore), f => !f.Sent && f.Text.Contains("\"member_joined\"", StringComparison.Ordinal));
        Assert.DoesNotContain(bob.Frames, f => !f.Sent && f.Text.Contains("\"member_joined\"", StringComparison.Ordinal));
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task A_growing_composer_or_a_typing_notice_keeps_the_last_message_in_view()
    {
        (ChatPage alice, ChatPage bob) = await AliceAndBobInAsync("general");

        // Enough lines to scroll, in few messages (under the rate limit).
        string[] lines = Enumerable.Range(1, 12).Select(i => $"line {i}\nsecond line\nthird line\nfourth line").ToArray();
        await bob.SayManyAsync(lines);
        await Expect(alice.Messages).ToHaveCountAsync(lines.Length);
        ILocator last = alice.Page.Locator("#messages .msg").Last;
        await Expect(last).ToBeInViewportAsync(new() { Ratio = 1 });

        await bob.Page.Locator("#text").PressSequentiallyAsync("typing");
        await Expect(alice.Typing).Not.ToBeEmptyAsync();
        await Expect(last).ToBeInViewportAsync(new() { Ratio = 1 });

        await alice.Page.Locator("#text").FillAsync("one\ntwo\nthree\nfour\nfive\nsix");
        await alice.Page.Locator("#text").PressAsync("Shift+Enter");
        await Expect(last).ToBeInViewportAsync(new() { Ratio = 1 });
        LocatorBoundingBoxResult message = await BoxAsync(last);
        LocatorBoundingBoxResult composer = await BoxAsync(alice.Page.Locator("#composer"));
        Assert.True(message.Y + message.Height <= composer.Y, $"The last message ends at y {message.Y + message.Height:0.#}, below the composer's top at {composer.Y:0.#}.");
        AssertNoErrors(alice, bob);
    }

    protected override void ConfigureHub(ChatHubOptions options) => _configure?.Invoke(options);

    private static async Task<LocatorBoundingBoxResult> BoxAsync(ILocator locator) =>
        await locator.BoundingBoxAsync() ?? throw new InvalidOperationException($"{locator} is not visible.");

    // The server of this class starts with the defaults; a test that needs other limits restarts it with them.
    [Fact]
    public async Task Trying_a_refused_message_again_sends_it_with_the_same_ref_so_it_is_never_stored_twice()
    {
        // A refusal the page does not foresee (it checks the length, not the lines) stands in for any other, such
        // as a server_error whose transaction may in fact have committed: the retry must be recognizable as a re-send.
        await RestartWithAsync(o => o.MaxTextLines = 2);
        (ChatPage alice, ChatPage bob) = await AliceAndBobInAsync("general");
        await alice.SayManyAsync(["one\ntwo\nthree"]);
        ILocator tryAgain = alice.Pending.GetByRole(AriaRole.Button, new() { Name = "Try again" });
        await Expect(tryAgain).ToBeVisibleAsync();
        await tryAgain.ClickAsync();
        await Expect(tryAgain).ToBeVisibleAsync();

        string[] refs = alice.Frames.Where(f => f.Sent && f.Text.Contains("\"say\"", StringComparison.Ordinal))
            .Select(f => JsonDocument.Parse(f.Text).RootElement.GetProperty("ref").GetString()!).ToArray();
        Assert.Equal(2, refs.Length);
        Assert.Equal(refs[0], refs[1]);
        await Expect(bob.Messages).ToHaveCountAsync(0);
    }

    private async Task RestartWithAsync(Action<ChatHubOptions> configure)
    {
        _configure = configure;
        await RestartServerAsync();
    }

    /// <summary>Each say is sent only after the previous one was answered (echoed or refused).</summary>
    private static void AssertOneMessageInFlightAtATime(ChatPage page)
    {
        Assert.Contains(page.Frames, f => f.Sent && f.Text.Contains("\"say\"", StringComparison.Ordinal));
        var inFlight = new Dictionary<long, string>();
        foreach ((bool sent, string text) in page.Frames)
        {
            using var json = JsonDocument.Parse(text);
            JsonElement root = json.RootElement;
            string type = root.GetProperty("type").GetString()!;
            string? reference = root.TryGetProperty("ref", out JsonElement r) ? r.GetString() : null;
            if (sent && type == "say")
            {
                long conversation = root.GetProperty("conversation").GetInt64();
                Assert.False(inFlight.TryGetValue(conversation, out string? waiting), $"The page sent '{root.GetProperty("text").GetString()}' while {waiting} was still unanswered.");
                inFlight[conversation] = reference!;
            }
            else if (!sent && type is "message" or "error" && reference is not null)
            {
                foreach ((long conversation, string waiting) in inFlight.ToArray())
                {
                    if (waiting == reference)
                    {
                        inFlight.Remove(conversation);
                    }
                }
            }
            else if (!sent && type == "hello")
            {
                inFlight.Clear(); // a new connection: what was in flight is sent again after hello
            }
        }
    }
}
