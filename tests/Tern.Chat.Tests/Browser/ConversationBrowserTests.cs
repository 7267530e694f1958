using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tern.Chat.Tests.Browser;

/// <summary>Several conversations at once: rooms and direct messages, unread counts across tabs, and reloads.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ConversationBrowserTests(BrowserFixture browser) : BrowserTest(browser)
{
    [Fact]
    public async Task Three_rooms_at_once_each_with_its_own_unread_badge_and_switching_leaves_no_room()
    {
        ChatPage alice = await SignUpAsync("alice");
        ChatPage bob = await SignUpAsync("bob");
        foreach (string room in new[] { "alpha", "beta", "gamma" })
        {
            await alice.JoinRoomAsync(room);
            await bob.JoinRoomAsync(room);
        }

        await alice.OpenConversationAsync("alpha");
        await bob.OpenConversationAsync("beta");
        await bob.SayAsync("beta one");
        await bob.SayAsync("beta two");
        await bob.OpenConversationAsync("gamma");
        await bob.SayAsync("gamma one");
        await bob.OpenConversationAsync("alpha");
        await bob.SayAsync("alpha one");

        // The open room is read as it arrives; the others count.
        await Expect(alice.Messages).ToHaveTextAsync(["alpha one"]);
        await Expect(alice.UnreadBadge("beta")).ToHaveTextAsync("2");
        await Expect(alice.UnreadBadge("gamma")).ToHaveTextAsync("1");
        await Expect(alice.UnreadBadge("alpha")).ToHaveCountAsync(0);
        await Expect(alice.Page.Locator("#room-list .conversation-button")).ToHaveCountAsync(3);
        await alice.ScreenshotAsync(ScreenshotPath("three-rooms-unread.png"));

        // Opening a room shows its messages only, with the "new messages" line before the first unread one.
        await alice.OpenConversationAsync("beta");
        await Expect(alice.Messages).ToHaveTextAsync(["beta one", "beta two"]);
        await Expect(alice.Page.Locator("#unread-divider + li.msg .text")).ToHaveTextAsync("beta one");
        await Expect(alice.UnreadBadge("beta")).ToHaveCountAsync(0);
        await Expect(alice.UnreadBadge("gamma")).ToHaveTextAsync("1");
        await alice.OpenConversationAsync("gamma");
        await Expect(alice.Messages).ToHaveTextAsync(["gamma one"]);
        await Expect(alice.UnreadBadge("gamma")).ToHaveCountAsync(0);

        // Switching was local: Alice is still in every room, and a message in alpha reaches her.
        await Expect(bob.Members).ToHaveTextAsync(["alice", "bob"]);
        await bob.SayAsync("alpha two");
        await Expect(alice.UnreadBadge("alpha")).ToHaveTextAsync("1");
        AssertNoErrors(alice, bob);
    }

    [Fact]
    public async Task A_direct_conversation_between_two_accounts_lasts_across_a_reload()
    {
        ChatPage alice = await SignUpAsync("alice", "Alice");
        ChatPage bob = await SignUpAsync("bob", "Bob");

        await alice.OpenDirectAsync("bob");
        await Expect(alice.Title).ToHaveTextAsync("Bob");
        await alice.SayAsync("Psst, only for you");

        await Expect(bob.Conversation("alice")).ToBeVisibleAsync();
        await Expect(bob.UnreadBadge("alice")).ToHaveTextAsync("1");
        await Expect(alice.Conversation("bob").Locator(".presence-dot")).ToHaveAttributeAsync("data-status", "online");
        await bob.OpenConversationAsync("alice");
        await Expect(bob.Messages).ToHaveTextAsync(["Psst, only for you"]);
        await bob.SayAsync("Got it");
        await Expect(alice.Messages).ToHaveTextAsync(["Psst, only for you", "Got it"]);

        await alice.Page.ReloadAsync();
        await alice.WaitUntilConnectedAsync();
        await Expect(alice.Conversation("bob")).ToBeVisibleAsync();
        await alice.OpenConversationAsync("bob");
        await Expect(alice.Messages).ToHaveTextAsync(["Psst, only for you", "Got it"]);

        // Nobody else sees it.
        ChatPage carol = await SignUpAsync("carol");
        await Expect(carol.Page.Locator("#direct-list .conversation-button")).ToHaveCountAsync(0);
        AssertNoErrors(alice, bob, carol);
    }

    [Fact]
    public async Task Unread_counts_follow_reading_in_another_tab_of_the_same_account()
    {
        ChatPage bob = await SignUpAsync("bob");
        ChatPage alice = await SignUpAsync("alice");
        await alice.JoinRoomAsync("news");
        await alice.JoinRoomAsync("quiet");
        await bob.JoinRoomAsync("news");
        ChatPage aliceTab = await OpenTabAsync(alice);
        await aliceTab.WaitUntilConnectedAsync();
        await aliceTab.OpenConversationAsync("quiet");
        await alice.OpenConversationAsync("quiet");

        await bob.SayAsync("news one");
        await bob.SayAsync("news two");
        await Expect(alice.UnreadBadge("news")).ToHaveTextAsync("2");
        await Expect(aliceTab.UnreadBadge("news")).ToHaveTextAsync("2");

        // Reading in one tab clears the badge in the other.
        await alice.OpenConversationAsync("news");
        await Expect(alice.Messages).ToHaveTextAsync(["news one", "news two"]);
        await Expect(alice.UnreadBadge("news")).ToHaveCountAsync(0);
        await Expect(aliceTab.UnreadBadge("news")).ToHaveCountAsync(0);

        // And a reload agrees (the read position is the account's, on the server).
        await aliceTab.Page.ReloadAsync();
        await aliceTab.WaitUntilConnectedAsync();
        await Expect(aliceTab.Conversation("news")).ToBeVisibleAsync();
        await Expect(aliceTab.UnreadBadge("news")).ToHaveCountAsync(0);
        AssertNoErrors(alice, aliceTab, bob);
    }
}
