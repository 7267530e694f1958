using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tern.Chat.Tests.Browser;

/// <summary>
/// The scene of the README's screenshot (several rooms, a direct conversation, unread and mention badges, a code
/// block) built through the page, checked, and photographed at desktop and phone widths (bin/…/screenshots/readme-*.png).
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class ScreenshotBrowserTests(BrowserFixture browser) : BrowserTest(browser)
{
    [Fact]
    public async Task A_busy_account_at_desktop_and_phone_widths()
    {
        ChatPage alice = await SignUpAsync("alice", "Alice Liddell");
        ChatPage bob = await SignUpAsync("bob", "Bob");
        ChatPage carol = await SignUpAsync("carol", "Carol");
        foreach (string room in new[] { "general", "design", "random" })
        {
            await alice.JoinRoomAsync(room);
        }

        await bob.JoinRoomAsync("design");
        await carol.JoinRoomAsync("random");
        await bob.JoinRoomAsync("general");
        await carol.JoinRoomAsync("general");
        await alice.OpenConversationAsync("general");

        await bob.SayAsync("Morning! The release is at **10:00**, runbook: https://example.com/runbook");
        await alice.SayAsync("Thanks, I'll run `make check` first.");
        await carol.SayAsync("@alice can you look at this before?\n```\nif (name.Length > 24)\n    return Refuse(\"bad_username\");\n```");
        await bob.SayAsync("_Looks fine to me_");
        await Expect(alice.Messages).ToHaveCountAsync(4);

        await bob.OpenConversationAsync("design");
        await bob.SayAsync("New icons are up for review");
        await bob.SayAsync("Two sizes: 16 and 24 px");
        await carol.OpenConversationAsync("random");
        await carol.SayAsync("@alice lunch at the new place?");
        await bob.OpenDirectAsync("alice");
        await bob.SayAsync("Got a minute after the release?");
        await bob.OpenConversationAsync("general");
        await Task.Delay(TimeSpan.FromSeconds(2.2)); // the server passes one typing notice per 2 s per conversation
        await bob.Page.Locator("#text").PressSequentiallyAsync("on it");

        await Expect(alice.UnreadBadge("design")).ToHaveTextAsync("2");
        await Expect(alice.MentionBadge("random")).ToHaveTextAsync("@1");
        await Expect(alice.UnreadBadge("bob")).ToHaveTextAsync("1");
        await Expect(alice.Typing).ToHaveTextAsync("Bob is typing…");
        await alice.Page.Mouse.MoveAsync(640, 780);
        await alice.ScreenshotAsync(ScreenshotPath("readme-desktop.png"));
        await alice.Page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
        await alice.ScreenshotAsync(ScreenshotPath("readme-desktop-dark.png"));

        ChatPage phone = await OpenAsync(width: 390, height: 844, isMobile: true);
        await phone.SignInAsync("alice");
        await phone.OpenConversationAsync("general");
        await Expect(phone.Page.Locator("#messages pre code")).ToBeVisibleAsync();
        await Expect(phone.Title).ToBeInViewportAsync(new() { Ratio = 1 }); // opening from the drawer shifted nothing sideways
        int scrollWidth = await phone.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
        Assert.True(scrollWidth <= 390, $"The page is {scrollWidth} px wide on a 390 px screen.");
        await phone.ScreenshotAsync(ScreenshotPath("readme-phone.png"));
        await phone.Page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
        await phone.ScreenshotAsync(ScreenshotPath("readme-phone-dark.png"));
        await phone.Page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Light });
        await phone.Page.ClickAsync("#sidebar-toggle");
        await Expect(phone.Conversation("design")).ToBeInViewportAsync();
        await phone.ScreenshotAsync(ScreenshotPath("readme-phone-sidebar.png"));
        AssertNoErrors(alice, bob, carol, phone);
    }
}
