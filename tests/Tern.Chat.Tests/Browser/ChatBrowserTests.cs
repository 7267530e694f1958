using Microsoft.Playwright;
using Tern.Chat.Tests.Support;
using static Microsoft.Playwright.Assertions;

namespace Tern.Chat.Tests.Browser;

/// <summary>The chat page in real headless Chromium, against a real Tern.Chat on a loopback port.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ChatBrowserTests(BrowserFixture browser) : IAsyncLifetime
{
    private readonly List<ChatPage> _pages = [];
    private ChatServer _server = null!;

    public async Task InitializeAsync() => _server = await ChatServer.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (ChatPage page in _pages)
        {
            await page.DisposeAsync();
        }

        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Two_people_in_one_room_see_each_others_messages_and_presence()
    {
        ChatPage alice = await OpenAsync();
        ChatPage bob = await OpenAsync();
        await alice.JoinAsync("alice");
        await bob.JoinAsync("bob");

        await Expect(alice.People).ToHaveTextAsync(["alice", "bob"]);
        await Expect(bob.People).ToHaveTextAsync(["alice", "bob"]);
        await Expect(alice.Page.Locator("#messages .notice").Last).ToContainTextAsync("bob joined");

        await alice.SayAsync("Hi Bob! Lunch at 12:30?");
        await Expect(bob.Messages).ToHaveTextAsync(["Hi Bob! Lunch at 12:30?"]);
        await bob.SayAsync("Sounds good.\nSee you there");
        await alice.SayAsync("Great, I'll book https://example.com/table");

        string[] conversation = ["Hi Bob! Lunch at 12:30?", "Sounds good.\nSee you there", "Great, I'll book https://example.com/table"];
        await Expect(alice.Messages).ToHaveTextAsync(conversation);
        await Expect(bob.Messages).ToHaveTextAsync(conversation);
        await Expect(alice.Page.Locator("#messages .msg.own")).ToHaveCountAsync(2);
        await Expect(bob.Page.Locator("#messages .msg a[href='https://example.com/table']")).ToHaveCountAsync(1);
        await Expect(bob.Page.Locator("#messages .msg time").First).ToHaveAttributeAsync("datetime", new System.Text.RegularExpressions.Regex(@"^\d{4}-\d\d-\d\dT"));

        // A private message, by clicking the name in the people list.
        await bob.Page.Locator("#people .person-button", new() { HasText = "alice" }).ClickAsync();
        await bob.SayAsync("psst, only for you");
        await Expect(alice.Page.Locator("#messages .msg.private .text")).ToHaveTextAsync(["psst, only for you"]);
        await Expect(bob.Page.Locator("#messages .msg.private .private-label")).ToHaveTextAsync(["private to alice"]);

        await bob.Page.Locator("#text").FocusAsync();
        await alice.ScreenshotAsync(Path.Combine(browser.ScreenshotDirectory, "chat-alice.png"));
        await bob.ScreenshotAsync(Path.Combine(browser.ScreenshotDirectory, "chat-bob.png"));

        // Bob leaves: Alice sees it in the presence list and as a notice.
        await bob.Page.ClickAsync("#leave-button");
        await Expect(alice.People).ToHaveTextAsync(["alice"]);
        await Expect(alice.Page.Locator("#messages .notice").Last).ToContainTextAsync("bob left");
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task Rooms_are_listed_with_member_counts_and_switching_rooms_moves_presence()
    {
        ChatPage alice = await OpenAsync();
        ChatPage bob = await OpenAsync();
        await alice.JoinAsync("alice");
        await bob.JoinAsync("bob");

        await bob.Page.FillAsync("#new-room", "Random");
        await bob.Page.PressAsync("#new-room", "Enter");
        await bob.WaitUntilInRoomAsync("random");
        await bob.SayAsync("only in random");

        await Expect(alice.People).ToHaveTextAsync(["alice"]);
        await Expect(bob.People).ToHaveTextAsync(["bob"]);
        await Expect(alice.Page.Locator("#messages .notice").Last).ToContainTextAsync("bob left");
        await Expect(alice.Page.Locator("#room-list .room-button")).ToHaveTextAsync(["#general1", "#random1"]);
        await Expect(bob.Messages).ToHaveTextAsync(["only in random"]);
        await Expect(alice.Messages).ToHaveCountAsync(0);

        // A newcomer sees the rooms and their counts on the join form, and can pick one.
        ChatPage carol = await OpenAsync();
        await Expect(carol.Page.Locator("#lobby-rooms .chip")).ToHaveTextAsync(["#general1", "#random1"]);
        await carol.Page.Locator("#lobby-rooms .chip", new() { HasText = "random" }).ClickAsync();
        await Expect(carol.Page.Locator("#room")).ToHaveValueAsync("random");
        await carol.Page.FillAsync("#nick", "carol");
        await carol.Page.ClickAsync("#join-button");
        await carol.WaitUntilInRoomAsync("random");
        await Expect(carol.Messages).ToHaveTextAsync(["only in random"]);
        await Expect(bob.People).ToHaveTextAsync(["bob", "carol"]);
        await Expect(alice.Page.Locator("#room-list .room-button")).ToHaveTextAsync(["#random2", "#general1"]);
        AssertNoErrors(alice, bob, carol);
    }

    [Fact]
    public async Task A_reload_shows_the_history_and_keeps_the_place_in_the_room()
    {
        ChatPage alice = await OpenAsync();
        ChatPage bob = await OpenAsync();
        await alice.JoinAsync("alice");
        await bob.JoinAsync("bob");
        await alice.SayAsync("first");
        await bob.SayAsync("second");
        await alice.SayAsync("third");
        await Expect(alice.Messages).ToHaveTextAsync(["first", "second", "third"]);

        await alice.Page.ReloadAsync();
        await alice.WaitUntilInRoomAsync();
        await Expect(alice.Messages).ToHaveTextAsync(["first", "second", "third"]);
        await Expect(alice.People).ToHaveTextAsync(["alice", "bob"]);

        // The reload took the same place back silently: Bob saw no one leave or join.
        await bob.SayAsync("welcome back");
        await Expect(alice.Messages).ToHaveTextAsync(["first", "second", "third", "welcome back"]);
        await Expect(bob.Page.Locator("#messages .notice.leave")).ToHaveCountAsync(0);

        // A new visitor (new tab, new storage) sees the same history.
        ChatPage carol = await OpenAsync();
        await carol.JoinAsync("carol");
        await Expect(carol.Messages).ToHaveTextAsync(["first", "second", "third", "welcome back"]);
        AssertNoErrors(alice, bob, carol);
    }

    [Fact]
    public async Task A_server_restart_in_the_middle_of_a_conversation_loses_no_message()
    {
        ChatPage alice = await OpenAsync();
        ChatPage bob = await OpenAsync();
        await alice.JoinAsync("alice");
        await bob.JoinAsync("bob");
        await alice.SayAsync("before 1");
        await bob.SayAsync("before 2");
        await Expect(alice.Messages).ToHaveTextAsync(["before 1", "before 2"]);

        await _server.StopAsync();
        await Expect(alice.Connection).Not.ToHaveAttributeAsync("data-state", "online");
        await Expect(bob.Connection).Not.ToHaveAttributeAsync("data-state", "online");
        await alice.ScreenshotAsync(Path.Combine(browser.ScreenshotDirectory, "restart-disconnected.png"));

        // Typed while the server is down: kept, shown as waiting, and sent after the reconnect.
        await alice.SayAsync("typed while down");
        await Expect(alice.Page.Locator("#pending .msg .text")).ToHaveTextAsync(["typed while down"]);

        await _server.StartAgainAsync();
        await alice.WaitUntilInRoomAsync();
        await bob.WaitUntilInRoomAsync();
        await bob.SayAsync("after 1");
        await alice.SayAsync("after 2");

        string[] all = ["before 1", "before 2", "typed while down", "after 1", "after 2"];
        await Expect(alice.Messages).ToHaveTextAsync(all);
        await Expect(bob.Messages).ToHaveTextAsync(all);
        await Expect(alice.Page.Locator("#pending .msg")).ToHaveCountAsync(0);

        // And the history on the server agrees: nothing lost, nothing twice.
        ChatPage carol = await OpenAsync();
        await carol.JoinAsync("carol");
        await Expect(carol.Messages).ToHaveTextAsync(all);
        AssertNoErrors(alice, bob, carol);
    }

    [Fact]
    public async Task Markup_in_messages_shows_as_text_and_runs_nothing()
    {
        ChatPage alice = await OpenAsync();
        ChatPage bob = await OpenAsync();
        await alice.JoinAsync("alice");
        await bob.JoinAsync("bob");
        string[] attacks =
        [
            "<script>window.__pwned = 'script'; alert('script')</script>",
            "<img src=x onerror=\"window.__pwned = 'img'; alert('img')\">",
            "<a href=\"javascript:window.__pwned='link'\">click me</a> javascript:alert(1)",
            "<b>bold?</b> &lt;not an entity&gt; <svg onload=\"window.__pwned='svg'\"></svg>",
        ];

        foreach (string attack in attacks)
        {
            await alice.SayAsync(attack);
        }

        await Expect(bob.Messages).ToHaveTextAsync(attacks);
        await Expect(alice.Messages).ToHaveTextAsync(attacks);
        foreach (ChatPage page in new[] { alice, bob })
        {
            Assert.Equal(0, await page.Page.Locator("#messages img, #messages script, #messages svg, #messages b, #messages a[href^='javascript']").CountAsync());
            Assert.Null(await page.Page.EvaluateAsync<string?>("() => window.__pwned ?? null"));
        }

        await bob.ScreenshotAsync(Path.Combine(browser.ScreenshotDirectory, "markup-as-text.png"));
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task Errors_from_the_server_are_shown_and_a_taken_nickname_is_refused()
    {
        ChatPage alice = await OpenAsync();
        ChatPage impostor = await OpenAsync();
        await alice.JoinAsync("alice");

        await impostor.Page.FillAsync("#nick", "Alice");
        await impostor.Page.FillAsync("#room", "general");
        await impostor.Page.ClickAsync("#join-button");
        await Expect(impostor.Page.Locator("#join-error")).ToHaveTextAsync("The nickname 'alice' is already taken in room 'general'; choose another.");
        await Expect(impostor.Page.Locator("#app")).ToHaveAttributeAsync("data-view", "lobby");
        await impostor.ScreenshotAsync(Path.Combine(browser.ScreenshotDirectory, "lobby-nick-taken.png"));

        await impostor.Page.FillAsync("#nick", "not valid!");
        await impostor.Page.ClickAsync("#join-button");
        await Expect(impostor.Page.Locator("#join-error")).ToContainTextAsync("A nickname is 1 to 24 letters");

        await alice.SayAsync("/msg nobody hello?");
        await Expect(alice.Page.Locator("#toast")).ToHaveTextAsync("Nobody called 'nobody' is connected in room 'general'.");
        await Expect(alice.Page.Locator("#text")).ToHaveValueAsync("/msg nobody hello?");
        AssertNoErrors(alice, impostor);
    }

    [Fact]
    public async Task The_page_works_on_a_phone_sized_screen()
    {
        ChatPage alice = await OpenAsync();
        ChatPage phone = await OpenAsync(width: 390, height: 844, isMobile: true);
        await alice.JoinAsync("alice");
        await phone.JoinAsync("bob");
        await alice.SayAsync("Are you on your phone?");
        await phone.SayAsync("Yes, the layout fits");

        await Expect(phone.Messages).ToHaveTextAsync(["Are you on your phone?", "Yes, the layout fits"]);
        await Expect(phone.Page.Locator("#text")).ToBeInViewportAsync();
        await Expect(phone.Page.Locator("#connection")).ToBeInViewportAsync();
        int scrollWidth = await phone.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(scrollWidth <= 390, $"The page is {scrollWidth} px wide on a 390 px screen.");
        await phone.ScreenshotAsync(Path.Combine(browser.ScreenshotDirectory, "phone.png"));

        // People are in a drawer on a phone.
        await Expect(phone.Page.Locator("#people-panel")).Not.ToBeInViewportAsync();
        await phone.Page.ClickAsync("#people-toggle");
        await Expect(phone.People).ToHaveTextAsync(["alice", "bob"]);
        await Expect(phone.Page.Locator("#people-panel")).ToBeInViewportAsync();
        await phone.ScreenshotAsync(Path.Combine(browser.ScreenshotDirectory, "phone-people.png"));
        AssertNoErrors(alice, phone);
    }

    private async Task<ChatPage> OpenAsync(int width = 1280, int height = 800, bool isMobile = false)
    {
        ChatPage page = await ChatPage.OpenAsync(browser.Browser, _server.Url, width, height, isMobile);
        _pages.Add(page);
        return page;
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
