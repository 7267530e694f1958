using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tern.Chat.Tests.Browser;

/// <summary>The chat page in real headless Chromium against a real Tern.Chat: the basics people rely on.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ChatBrowserTests(BrowserFixture browser) : BrowserTest(browser)
{
    [Fact]
    public async Task Two_people_in_one_room_see_each_others_messages_and_who_is_there()
    {
        (ChatPage alice, ChatPage bob) = await AliceAndBobInAsync("lunch", "Alice", "Bob");

        await Expect(alice.Members).ToHaveTextAsync(["Alice", "Bob"]);
        await Expect(bob.Members).ToHaveTextAsync(["Alice", "Bob"]);

        await alice.SayAsync("Hi Bob! Lunch at 12:30?");
        await Expect(bob.Messages).ToHaveTextAsync(["Hi Bob! Lunch at 12:30?"]);
        await bob.SayAsync("Sounds good.\nSee you there");
        await alice.SayAsync("Great, I'll book https://example.com/table");

        string[] conversation = ["Hi Bob! Lunch at 12:30?", "Sounds good.\nSee you there", "Great, I'll book https://example.com/table"];
        await Expect(alice.Messages).ToHaveTextAsync(conversation);
        await Expect(bob.Messages).ToHaveTextAsync(conversation);
        await Expect(alice.Page.Locator("#messages .msg.own")).ToHaveCountAsync(2);
        await Expect(bob.Page.Locator("#messages .msg a[href='https://example.com/table']")).ToHaveAttributeAsync("rel", "noopener noreferrer");
        await Expect(bob.Page.Locator("#messages .msg time").First).ToHaveAttributeAsync("datetime", new Regex(@"^\d{4}-\d\d-\d\dT"));
        await Expect(bob.Page.Locator("#messages .msg .author").First).ToHaveTextAsync("Alice");
        await Expect(alice.Pending).ToHaveCountAsync(0);

        await alice.ScreenshotAsync(ScreenshotPath("chat-alice.png"));
        await bob.ScreenshotAsync(ScreenshotPath("chat-bob.png"));
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task A_server_restart_in_the_middle_of_a_conversation_loses_nothing_and_shows_nothing_twice()
    {
        (ChatPage alice, ChatPage bob) = await AliceAndBobInAsync("general");
        await alice.SayAsync("before 1");
        await bob.SayAsync("before 2");
        await Expect(alice.Messages).ToHaveTextAsync(["before 1", "before 2"]);

        await Server.StopAsync();
        await Expect(alice.Connection).Not.ToHaveAttributeAsync("data-state", "online");
        await Expect(bob.Connection).Not.ToHaveAttributeAsync("data-state", "online");
        await alice.ScreenshotAsync(ScreenshotPath("restart-disconnected.png"));

        // Typed while the server is down: kept, shown as waiting, and sent after the reconnect.
        await alice.SayAsync("typed while down 1");
        await alice.SayAsync("typed while down 2");
        await Expect(alice.Pending.Locator(".text")).ToHaveTextAsync(["typed while down 1", "typed while down 2"]);

        await Server.StartAgainAsync();
        await alice.WaitUntilConnectedAsync();
        await bob.WaitUntilConnectedAsync();
        await Expect(alice.Pending).ToHaveCountAsync(0);
        await bob.SayAsync("after 1");
        await alice.SayAsync("after 2");

        string[] all = ["before 1", "before 2", "typed while down 1", "typed while down 2", "after 1", "after 2"];
        await Expect(alice.Messages).ToHaveTextAsync(all);
        await Expect(bob.Messages).ToHaveTextAsync(all);

        // And the history on the server agrees: nothing lost, nothing twice.
        ChatPage carol = await SignUpAsync("carol");
        await carol.JoinRoomAsync("general");
        await Expect(carol.Messages).ToHaveTextAsync(all);
        AssertNoErrors(alice, bob, carol);
    }

    [Fact]
    public async Task Markup_in_messages_shows_as_text_and_runs_nothing_formatting_included()
    {
        (ChatPage alice, ChatPage bob) = await AliceAndBobInAsync("general");
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

        // The formatting syntax around hostile text: each piece is built as an element whose content is text.
        await alice.SayAsync("**see https://example.com/a?b=1 <img src=x onerror=\"window.__pwned='bold'\">**");
        await alice.SayAsync("```\n<script>window.__pwned = 'block'</script>\n<svg onload=\"window.__pwned='block-svg'\"></svg>\n```");
        await alice.SayAsync("`<img src=x onerror=\"window.__pwned='code'\">` and *<svg onload=\"window.__pwned='em'\"></svg>* and **javascript:alert(2)**");
        await alice.SayAsync("[click](javascript:alert(3)) data:text/html,<script>alert(4)</script> @bob");

        string[] shown =
        [
            .. attacks,
            "see https://example.com/a?b=1 <img src=x onerror=\"window.__pwned='bold'\">",
            "<script>window.__pwned = 'block'</script>\n<svg onload=\"window.__pwned='block-svg'\"></svg>",
            "<img src=x onerror=\"window.__pwned='code'\"> and <svg onload=\"window.__pwned='em'\"></svg> and javascript:alert(2)",
            "[click](javascript:alert(3)) data:text/html,<script>alert(4)</script> @bob",
        ];
        await Expect(bob.Messages).ToHaveTextAsync(shown);
        await Expect(alice.Messages).ToHaveTextAsync(shown);
        foreach (ChatPage page in new[] { alice, bob })
        {
            Assert.Equal(0, await page.Page.Locator("#messages img, #messages script, #messages svg, #messages b, #messages a:not([href^='https:'])").CountAsync());
            Assert.Null(await page.Page.EvaluateAsync<string?>("() => window.__pwned ?? null"));
            await Expect(page.Page.Locator("#messages strong a[href='https://example.com/a?b=1']")).ToHaveAttributeAsync("target", "_blank");
            await Expect(page.Page.Locator("#messages pre code")).ToHaveTextAsync("<script>window.__pwned = 'block'</script>\n<svg onload=\"window.__pwned='block-svg'\"></svg>");
            await Expect(page.Page.Locator("#messages code.inline-code")).ToHaveTextAsync("<img src=x onerror=\"window.__pwned='code'\">");
            await Expect(page.Page.Locator("#messages em")).ToHaveTextAsync("<svg onload=\"window.__pwned='em'\"></svg>");
            await Expect(page.Page.Locator("#messages strong", new() { HasText = "javascript:alert(2)" })).Not.ToHaveCountAsync(0);
            await Expect(page.Page.Locator("#messages .mention")).ToHaveTextAsync("@bob");
            Assert.Equal(1, await page.Page.Locator("#messages a").CountAsync());
        }

        await bob.ScreenshotAsync(ScreenshotPath("markup-as-text.png"));
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task The_page_works_on_a_phone_sized_screen()
    {
        ChatPage phone = await OpenAsync(width: 390, height: 844, isMobile: true);
        int signInWidth = await phone.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(signInWidth <= 390, $"The sign-in screen is {signInWidth} px wide on a 390 px screen.");
        await phone.ScreenshotAsync(ScreenshotPath("phone-sign-in.png"));
        await phone.SignUpAsync("bob", displayName: "Bob");
        ChatPage alice = await SignUpAsync("alice", "Alice");
        await alice.JoinRoomAsync("general");
        await phone.JoinRoomAsync("general");
        await alice.SayAsync("Are you on your phone?");
        await phone.SayAsync("Yes, the layout fits, even with ```a_very_long_code_block_that_would_push_the_page_sideways_if_it_could()```");

        await Expect(phone.Messages.First).ToHaveTextAsync("Are you on your phone?");
        await Expect(phone.Messages).ToHaveCountAsync(2);
        await Expect(phone.Page.Locator("#text")).ToBeInViewportAsync();
        await Expect(phone.Connection).ToBeInViewportAsync();
        int scrollWidth = await phone.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(scrollWidth <= 390, $"The page is {scrollWidth} px wide on a 390 px screen.");
        await phone.ScreenshotAsync(ScreenshotPath("phone.png"));
        await AssertSearchIsUsableAsync(phone, "connected");

        // Disconnected, the connection status must not squeeze the search box to a sliver.
        await Server.StopAsync();
        await Expect(phone.Connection).ToHaveAttributeAsync("data-state", new Regex("^(reconnecting|offline)$"));
        await Expect(phone.Page.Locator("#retry-now")).ToBeVisibleAsync();
        await Expect(phone.Connection).ToBeInViewportAsync();
        await phone.ScreenshotAsync(ScreenshotPath("phone-disconnected.png"));
        await AssertSearchIsUsableAsync(phone, "disconnected");
        int disconnectedWidth = await phone.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(disconnectedWidth <= 390, $"The page is {disconnectedWidth} px wide on a 390 px screen while disconnected.");
        await Server.StartAgainAsync();
        await phone.WaitUntilConnectedAsync();
        await AssertSearchIsUsableAsync(phone, "connected again");

        // The sidebar and the members are drawers on a phone.
        await Expect(phone.Page.Locator("#sidebar")).Not.ToBeInViewportAsync();
        await phone.Page.ClickAsync("#sidebar-toggle");
        await Expect(phone.Conversation("general")).ToBeInViewportAsync();
        await phone.ScreenshotAsync(ScreenshotPath("phone-sidebar.png"));
        await phone.Page.Locator("#scrim").ClickAsync(new() { Position = new Position { X = 370, Y = 400 } });
        await Expect(phone.Page.Locator("#sidebar")).Not.ToBeInViewportAsync();
        await phone.Page.ClickAsync("#members-toggle");
        await Expect(phone.Members).ToHaveTextAsync(["Alice", "Bob"]);
        await Expect(phone.Page.Locator("#members-panel")).ToBeInViewportAsync();
        await phone.ScreenshotAsync(ScreenshotPath("phone-members.png"));
        AssertNoErrors(alice, phone);
    }

    private static async Task AssertSearchIsUsableAsync(ChatPage page, string when)
    {
        ILocator search = page.Page.Locator("#search-input");
        await Expect(search).ToBeInViewportAsync();
        LocatorBoundingBoxResult? box = await search.BoundingBoxAsync();
        Assert.True(box is { Width: >= 120 }, $"The search box is {box?.Width} px wide on a phone ({when}).");
    }

    [Fact]
    public async Task Signing_up_and_in_shows_the_servers_reasons_and_a_session_survives_a_reload()
    {
        ChatPage alice = await SignUpAsync("alice");
        ChatPage other = await OpenAsync();

        // Taken name: the API's own sentence is shown.
        await other.Page.ClickAsync("#auth-mode-signup");
        await other.Page.FillAsync("#auth-username", "Alice");
        await other.Page.FillAsync("#auth-password", ChatPage.Password);
        await other.Page.ClickAsync("#auth-submit");
        await Expect(other.Page.Locator("#auth-error")).Not.ToBeEmptyAsync();
        await Expect(other.View).ToHaveAttributeAsync("data-view", "auth");

        // Wrong password.
        await other.Page.ClickAsync("#auth-mode-signin");
        await other.Page.FillAsync("#auth-username", "alice");
        await other.Page.FillAsync("#auth-password", "not the password");
        await other.Page.ClickAsync("#auth-submit");
        await Expect(other.Page.Locator("#auth-error")).Not.ToBeEmptyAsync();
        await Expect(other.View).ToHaveAttributeAsync("data-view", "auth");
        await other.ScreenshotAsync(ScreenshotPath("sign-in-refused.png"));

        // The right one, on a second device.
        await other.Page.FillAsync("#auth-password", ChatPage.Password);
        await other.Page.ClickAsync("#auth-submit");
        await other.WaitUntilConnectedAsync();

        // A reload goes straight to the chat (GET /api/session decides).
        await alice.Page.ReloadAsync();
        await alice.WaitUntilConnectedAsync();
        await Expect(alice.Page.Locator("#menu-username")).ToHaveTextAsync("alice");
        AssertNoErrors(alice, other);
    }

    [Fact]
    public async Task Signing_out_everywhere_sends_every_tab_and_device_back_to_sign_in()
    {
        ChatPage alice = await SignUpAsync("alice");
        ChatPage secondTab = await OpenTabAsync(alice);
        await secondTab.WaitUntilConnectedAsync();
        ChatPage laptop = await OpenAsync();
        await laptop.SignInAsync("alice");

        await alice.ChooseFromMenuAsync("menu-signout-all");
        await Expect(alice.View).ToHaveAttributeAsync("data-view", "auth");
        await Expect(secondTab.View).ToHaveAttributeAsync("data-view", "auth");
        await Expect(laptop.View).ToHaveAttributeAsync("data-view", "auth");
        await Expect(laptop.Page.Locator("#auth-error")).Not.ToBeEmptyAsync();

        // Signed out means signed out: a reload stays on the sign-in screen, and signing in again works.
        await laptop.Page.ReloadAsync();
        await Expect(laptop.View).ToHaveAttributeAsync("data-view", "auth");
        await laptop.SignInAsync("alice");
        await alice.SignInAsync("alice");

        // Signing out on one device leaves the other signed in.
        await laptop.ChooseFromMenuAsync("menu-signout");
        await Expect(laptop.View).ToHaveAttributeAsync("data-view", "auth");
        await Expect(alice.Connection).ToHaveAttributeAsync("data-state", "online");
        await alice.Page.ReloadAsync();
        await alice.WaitUntilConnectedAsync();
        AssertNoErrors(alice, secondTab, laptop);
    }
}
