using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Tern.Chat.Hub;
using static Microsoft.Playwright.Assertions;

namespace Tern.Chat.Tests.Browser;

/// <summary>What happens live between people: mentions, edits and deletions, typing, presence, search, long histories.</summary>
[Collection(BrowserCollection.Name)]
public sealed class LiveBrowserTests(BrowserFixture browser) : BrowserTest(browser)
{
    protected override void ConfigureHub(ChatHubOptions options)
    {
        // Seeding long histories from one account must not wait for the rate limit of people typing.
        options.RateLimitCount = 10_000;
        options.AddressRateLimitCount = 10_000;
        options.RequestLimitCount = 10_000;
    }

    [Fact]
    public async Task Mentions_are_highlighted_counted_apart_and_shown_in_the_title()
    {
        ChatPage alice = await SignUpAsync("alice", "Alice");
        ChatPage bob = await SignUpAsync("bob", "Bob");
        await alice.JoinRoomAsync("general");
        await alice.JoinRoomAsync("elsewhere");
        await bob.JoinRoomAsync("general");
        await Expect(alice.Page).ToHaveTitleAsync("Tern.Chat");

        await bob.SayAsync("morning all");
        await bob.SayAsync("hey @alice, look at **this**");
        await Expect(alice.UnreadBadge("general")).ToHaveTextAsync("2");
        await Expect(alice.MentionBadge("general")).ToHaveTextAsync("@1");
        await Expect(alice.Page).ToHaveTitleAsync("(1) Tern.Chat");
        await alice.ScreenshotAsync(ScreenshotPath("mention-badge.png"));

        await alice.OpenConversationAsync("general");
        await Expect(alice.Message("hey @alice")).ToHaveClassAsync(new Regex(@"\bmention-me\b"));
        await Expect(alice.Message("morning all")).Not.ToHaveClassAsync(new Regex(@"\bmention-me\b"));
        await Expect(alice.Message("hey @alice").Locator(".mention.mention-of-me")).ToHaveTextAsync("@alice");
        await Expect(alice.MentionBadge("general")).ToHaveCountAsync(0);
        await Expect(alice.Page).ToHaveTitleAsync("Tern.Chat");

        // Bob's own copy is not highlighted as a mention of him.
        await Expect(bob.Message("hey @alice")).Not.ToHaveClassAsync(new Regex(@"\bmention-me\b"));
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task Edits_and_deletions_are_seen_live_by_the_other_person()
    {
        (ChatPage alice, ChatPage bob) = await AliceAndBobInAsync("general");
        await alice.SayAsync("teh first message");
        await alice.SayAsync("a mistake");
        await Expect(bob.Messages).ToHaveTextAsync(["teh first message", "a mistake"]);

        await alice.Message("teh first").HoverAsync();
        await alice.Message("teh first").Locator(".edit-action").ClickAsync();
        await alice.Page.Locator("#messages .edit-form textarea").FillAsync("the **first** message");
        await alice.Page.Locator("#messages .edit-form textarea").PressAsync("Enter");

        await Expect(bob.Messages).ToHaveTextAsync(["the first message", "a mistake"]);
        await Expect(bob.Message("the first message").Locator(".edited-mark")).ToHaveTextAsync("edited");
        await Expect(bob.Message("the first message").Locator("strong")).ToHaveTextAsync("first");
        await Expect(alice.Message("the first message").Locator(".edited-mark")).ToBeVisibleAsync();

        await alice.Message("a mistake").HoverAsync();
        await alice.Message("a mistake").Locator(".delete-action").ClickAsync();
        await alice.Message("a mistake").Locator(".delete-action").ClickAsync();
        await Expect(bob.Messages).ToHaveTextAsync(["the first message", "message deleted"]);
        await Expect(bob.Page.Locator("#messages .msg.deleted .tombstone")).ToHaveCountAsync(1);
        await Expect(alice.Page.Locator("#messages .msg.deleted .tombstone")).ToHaveCountAsync(1);

        // Bob cannot edit Alice's messages: he has no actions on them.
        await Expect(bob.Page.Locator("#messages .msg .edit-action")).ToHaveCountAsync(0);

        // A reload shows the same (the edit and the deletion are stored).
        await bob.Page.ReloadAsync();
        await bob.WaitUntilConnectedAsync();
        await bob.OpenConversationAsync("general");
        await Expect(bob.Messages).ToHaveTextAsync(["the first message", "message deleted"]);
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task Scrolling_up_loads_older_messages_and_keeps_the_place()
    {
        ChatPage bob = await SignUpAsync("bob");
        await bob.JoinRoomAsync("long");
        string[] seeded = Enumerable.Range(1, 130).Select(i => $"message {i}").ToArray();
        await bob.SayManyAsync(seeded);
        await Expect(bob.Pending).ToHaveCountAsync(0, new() { Timeout = 60_000 });

        ChatPage alice = await SignUpAsync("alice");
        await alice.JoinRoomAsync("long");
        await Expect(alice.Messages.Last).ToHaveTextAsync("message 130");
        await Expect(alice.Messages).ToHaveCountAsync(50);
        await Expect(alice.Messages.First).ToHaveTextAsync("message 81");

        // Up to the top: the page before comes, and what was at the top stays where it was on screen.
        await alice.Page.EvaluateAsync("() => { document.getElementById('scroller').scrollTop = 0; }");
        await Expect(alice.Messages).ToHaveCountAsync(100);
        await Expect(alice.Message("message 81")).ToBeInViewportAsync();
        Assert.True(await alice.Page.EvaluateAsync<double>("() => document.getElementById('scroller').scrollTop") > 100, "The view jumped to the top.");

        await alice.Page.EvaluateAsync("() => { document.getElementById('scroller').scrollTop = 0; }");
        await Expect(alice.Messages).ToHaveCountAsync(130);
        await Expect(alice.Page.Locator("#history-status")).ToHaveTextAsync("This is the beginning of the conversation.");
        await Expect(alice.Messages).ToHaveTextAsync(seeded);
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task A_search_result_opens_its_conversation_at_the_message()
    {
        ChatPage bob = await SignUpAsync("bob", "Bob");
        await bob.JoinRoomAsync("archive");
        await bob.SayManyAsync(Enumerable.Range(1, 120).Select(i => i == 7 ? "the haystack hides a needle here" : $"message {i}"));
        await Expect(bob.Pending).ToHaveCountAsync(0, new() { Timeout = 60_000 });

        ChatPage alice = await SignUpAsync("alice");
        await alice.JoinRoomAsync("archive");
        await alice.JoinRoomAsync("other");
        await Expect(alice.Messages).ToHaveCountAsync(0);

        await alice.Page.FillAsync("#search-input", "needle");
        await alice.Page.PressAsync("#search-input", "Enter");
        ILocator result = alice.Page.Locator("#search-results .search-result-button");
        await Expect(result).ToHaveCountAsync(1);
        await Expect(result.Locator(".search-conversation")).ToHaveTextAsync("#archive");
        await Expect(result.Locator(".search-author")).ToHaveTextAsync("Bob");
        await Expect(result.Locator(".search-snippet")).ToHaveTextAsync("the haystack hides a needle here");
        await alice.ScreenshotAsync(ScreenshotPath("search-results.png"));

        await result.ClickAsync();
        await Expect(alice.Title).ToHaveTextAsync("#archive");
        ILocator found = alice.Message("needle");
        await Expect(found).ToHaveClassAsync(new Regex(@"\bhighlighted\b"));
        await Expect(found).ToBeInViewportAsync();
        await Expect(alice.Message("message 6")).ToHaveCountAsync(1);
        await Expect(alice.Message("message 8")).ToHaveCountAsync(1);
        await alice.ScreenshotAsync(ScreenshotPath("search-jump.png"));

        // Reading down from there reaches the newest message, each message once.
        await alice.Page.EvaluateAsync("async () => { const s = document.getElementById('scroller'); for (let i = 0; i < 20; i++) { s.scrollTop = s.scrollHeight; await new Promise(r => setTimeout(r, 100)); } }");
        await Expect(alice.Messages.Last).ToHaveTextAsync("message 120");
        int count = await alice.Messages.CountAsync();
        int distinct = (await alice.Page.Locator("#messages .msg").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.id)")).Distinct().Count();
        Assert.Equal(count, distinct);
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task Typing_shows_for_a_few_seconds_on_the_other_side()
    {
        (ChatPage alice, ChatPage bob) = await AliceAndBobInAsync("general", "Alice", "Bob");

        // A script that fills the box (and fires input itself) is not Bob typing.
        await bob.Page.EvaluateAsync(
            """
            () => {
              const box = document.getElementById('text');
              box.value = 'filled by a script';
              box.dispatchEvent(new Event('input', { bubbles: true }));
            }
            """);
        await Task.Delay(300);
        Assert.DoesNotContain(bob.Frames, frame => frame.Sent && frame.Text.Contains("\"typing\"", StringComparison.Ordinal));
        await Expect(alice.Typing).ToBeEmptyAsync();
        await bob.Page.Locator("#text").FillAsync(string.Empty);

        await bob.Page.Locator("#text").PressSequentiallyAsync("I am writ");
        await Expect(alice.Typing).ToHaveTextAsync("Bob is typing…");
        await Expect(bob.Typing).ToBeEmptyAsync();
        await Expect(alice.Typing).ToBeEmptyAsync(new() { Timeout = 10_000 });

        // A message ends it at once.
        await bob.Page.Locator("#text").PressSequentiallyAsync("ing");
        await Expect(alice.Typing).ToHaveTextAsync("Bob is typing…");
        await bob.Page.Locator("#text").PressAsync("Enter");
        await Expect(alice.Messages).ToHaveTextAsync(["I am writing"]);
        await Expect(alice.Typing).ToBeEmptyAsync(new() { Timeout = 1_000 });
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task Presence_turns_away_when_the_other_tab_is_hidden_and_offline_when_it_closes()
    {
        (ChatPage alice, ChatPage bob) = await AliceWritesToBobAsync("are you there?");

        ILocator bobsDot = alice.Conversation("bob").Locator(".presence-dot");
        await Expect(bobsDot).ToHaveAttributeAsync("data-status", "online");
        await bob.SetHiddenAsync(true);
        await Expect(bobsDot).ToHaveAttributeAsync("data-status", "away");
        await Expect(alice.Page.Locator("#members .member[data-username='bob']")).ToHaveAttributeAsync("data-status", "away");
        await bob.SetHiddenAsync(false);
        await Expect(bobsDot).ToHaveAttributeAsync("data-status", "online");

        await bob.DisposeAsync();
        await Expect(bobsDot).ToHaveAttributeAsync("data-status", "offline");
        AssertNoErrors(alice);
    }

    [Fact]
    public async Task Presence_turns_away_after_the_idle_time_and_online_again_with_activity()
    {
        (ChatPage alice, ChatPage bob) = await AliceWritesToBobAsync("are you there?");

        // The same session with a 4 s idle time instead of 5 minutes (?idle= in the address): longer than the hub's
        // PresenceInterval (2 s), which may hold "back online" back that long, so that it is not overtaken by the next idle.
        await bob.Page.GotoAsync(new Uri(bob.Url, "/?idle=4000").ToString());
        await bob.WaitUntilConnectedAsync();
        ILocator bobsDot = alice.Conversation("bob").Locator(".presence-dot");
        await Expect(bobsDot).ToHaveAttributeAsync("data-status", "online");
        await Expect(bobsDot).ToHaveAttributeAsync("data-status", "away", new() { Timeout = 10_000 });
        await Expect(alice.Page.Locator("#members .member[data-username='bob']")).ToHaveAttributeAsync("data-status", "away");

        await bob.Page.Keyboard.PressAsync("Shift");
        await Expect(bobsDot).ToHaveAttributeAsync("data-status", "online", new() { Timeout = 3_500 });
        await bob.Page.Mouse.ClickAsync(5, 400);
        await Expect(bobsDot).ToHaveAttributeAsync("data-status", "away", new() { Timeout = 10_000 });
        await bob.Page.Mouse.ClickAsync(5, 400);
        await Expect(bobsDot).ToHaveAttributeAsync("data-status", "online", new() { Timeout = 3_500 });
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task A_hidden_tab_counts_what_is_addressed_to_its_person_in_the_title()
    {
        (ChatPage alice, ChatPage bob) = await AliceAndBobInAsync("general", null, "Bob");
        await alice.SetHiddenAsync(true);

        // Hidden: even the open conversation is not marked read, and the title counts the mention.
        await bob.SayAsync("@alice are you around?");
        await bob.OpenDirectAsync("alice");
        await bob.SayAsync("ping");
        await Expect(alice.Page).ToHaveTitleAsync("(2) Tern.Chat");
        await Expect(alice.UnreadBadge("general")).ToHaveTextAsync("1");

        await alice.SetHiddenAsync(false);
        await Expect(alice.UnreadBadge("general")).ToHaveCountAsync(0);
        await Expect(alice.Page).ToHaveTitleAsync("(1) Tern.Chat");
        await alice.OpenConversationAsync("bob");
        await Expect(alice.Page).ToHaveTitleAsync("Tern.Chat");
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task Direct_messages_and_mentions_notify_only_while_hidden_and_only_after_the_person_allowed_it()
    {
        ChatPage alice = await OpenAsync();
        await alice.RecordNotificationsAsync();
        await alice.SignUpAsync("alice");
        ChatPage bob = await SignUpAsync("bob", "Bob");
        await alice.JoinRoomAsync("general");
        await bob.JoinRoomAsync("general");

        // Loading never asks; without permission a hidden tab shows nothing.
        Assert.Equal(0, await alice.PermissionRequestsAsync());
        await alice.SetHiddenAsync(true);
        await bob.SayAsync("@alice before you allowed it");
        await Expect(alice.Page).ToHaveTitleAsync("(1) Tern.Chat");
        Assert.Empty(await alice.NotificationsAsync());
        Assert.Equal(0, await alice.PermissionRequestsAsync());
        await alice.SetHiddenAsync(false);

        // The menu item asks once, then goes away.
        await alice.ChooseFromMenuAsync("menu-notifications");
        await alice.Page.WaitForFunctionAsync("() => window.__permissionRequests === 1");
        await Expect(alice.Page.Locator("#menu")).ToBeHiddenAsync();
        await alice.Page.ClickAsync("#menu-button");
        await Expect(alice.Page.Locator("#menu")).ToBeVisibleAsync();
        await Expect(alice.Page.Locator("#menu-notifications")).ToBeHiddenAsync();
        await alice.Page.Keyboard.PressAsync("Escape");

        // Hidden: a mention and a direct message notify; a plain room message does not.
        await alice.SetHiddenAsync(true);
        await bob.SayAsync("just chatting");
        await bob.SayAsync("@alice look at this");
        await Expect(alice.Message("@alice look at this")).ToHaveCountAsync(1);
        await bob.OpenDirectAsync("alice");
        await bob.SayAsync("a **private** word");
        await Expect(alice.UnreadBadge("bob")).ToHaveTextAsync("1");
        Assert.Equal(["Bob in #general: @alice look at this", "Bob: a private word"], await alice.NotificationsAsync());

        // Visible: nothing more, though the same kinds of message arrive.
        await alice.SetHiddenAsync(false);
        await bob.SayAsync("another private word");
        await Expect(alice.UnreadBadge("bob")).ToHaveTextAsync("2");
        await bob.OpenConversationAsync("general");
        await bob.SayAsync("@alice once more");
        await Expect(alice.Message("@alice once more")).ToHaveCountAsync(1);
        Assert.Equal(2, (await alice.NotificationsAsync()).Length);
        Assert.Equal(1, await alice.PermissionRequestsAsync());
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task A_display_name_change_shows_everywhere_at_once()
    {
        (ChatPage alice, ChatPage bob) = await AliceAndBobInAsync("general", "Alice", null);
        await alice.SayAsync("hello");
        await Expect(bob.Message("hello").Locator(".author")).ToHaveTextAsync("Alice");

        await alice.ChooseFromMenuAsync("menu-profile");
        await alice.Page.FillAsync("#profile-name", "Alice Liddell");
        await alice.Page.PressAsync("#profile-name", "Enter");
        await Expect(alice.Page.Locator("#profile-dialog")).Not.ToBeVisibleAsync();
        await Expect(alice.Page.Locator("#menu-name")).ToHaveTextAsync("Alice Liddell");
        await Expect(bob.Message("hello").Locator(".author")).ToHaveTextAsync("Alice Liddell");
        AssertNoErrors(alice, bob);
    }
}
