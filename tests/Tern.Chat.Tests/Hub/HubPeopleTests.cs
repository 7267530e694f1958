using System.Text.Json;
using Tern.Chat.Storage;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Hub;

public sealed class HubPeopleTests : IAsyncLifetime
{
    private HubHarness _h = null!;
    private Account _alice = null!;
    private Account _bob = null!;
    private TestClient _b = null!;
    private TestClient _stranger = null!;
    private long _general;

    public async Task InitializeAsync()
    {
        _h = await HubHarness.StartAsync();
        _alice = await _h.AccountAsync("alice");
        _bob = await _h.AccountAsync("bob");
        _b = await _h.ConnectAsync(_bob);
        _general = await _h.JoinAsync(_b, "general");
        _stranger = await _h.ConnectAsync(await _h.AccountAsync("stranger"));
        await _h.JoinAsync(_stranger, "elsewhere");
        TestClient first = await _h.ConnectAsync(_alice);
        await _h.JoinAsync(first, "general");
        await _h.Hub.DisconnectAsync(first);
        _b.Clear();
        _stranger.Clear();
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task Presence_is_announced_to_people_sharing_a_conversation_only_when_the_account_total_changes()
    {
        TestClient a1 = await _h.ConnectAsync(_alice);
        TestClient a2 = await _h.ConnectAsync(_alice);
        TimeSpan apart = _h.Options.PresenceInterval; // Far enough apart that none is held back.
        await _h.SendAsync(a1, new { type = "presence", status = "away" });
        _h.Time.Advance(apart);
        await _h.SendAsync(a2, new { type = "presence", status = "away" });
        _h.Time.Advance(apart);
        await _h.SendAsync(a1, new { type = "presence", status = "online" });
        await _h.SendAsync(a1, new { type = "presence", status = "online" });
        _h.Time.Advance(apart);
        await _h.Hub.DisconnectAsync(a1);
        await _h.Hub.DisconnectAsync(a2);
        await _h.Hub.DisconnectAsync(a2);

        Assert.Equal(
            ["alice online", "alice away", "alice online", "alice away", "alice offline"],
            _b.OfType("presence").Select(p => $"{p.Str("username")} {p.Str("status")}"));
        Assert.Empty(_stranger.OfType("presence"));
        Assert.Empty(a1.OfType("presence"));

        TestClient a3 = await _h.ConnectAsync(_alice);
        await _h.SendAsync(a3, new { type = "presence", status = "busy", @ref = "p" });
        Assert.Equal("bad_field", a3.ErrorCode());
        Assert.Equal("p", a3.Error().Str("ref"));
    }

    [Fact]
    public async Task A_burst_of_presence_flips_reaches_contacts_as_a_few_announcements_ending_with_the_last_status()
    {
        // The clock the hub reads stands still, so every flip after the first announcement is within the interval;
        // the held-back status goes out on a (real-time) timer.
        _h.Options.PresenceInterval = TimeSpan.FromMilliseconds(200);
        TestClient a = await _h.ConnectAsync(_alice);
        _b.Clear();

        for (int i = 0; i < 101; i++)
        {
            await _h.SendAsync(a, new { type = "presence", status = i % 2 == 0 ? "away" : "online" });
        }

        Assert.Empty(a.OfType("error"));
        Assert.True(_b.OfType("presence").Count <= 1, $"{_b.OfType("presence").Count} announcements during the burst");
        JsonElement last = await _b.WaitForAsync("presence", count: 1);
        await Task.Delay(500); // Time for any further (wrong) announcement to show.
        Assert.Single(_b.OfType("presence"));
        Assert.Equal("alice away", $"{last.Str("username")} {last.Str("status")}");
    }

    [Fact]
    public async Task Typing_reaches_the_other_members_at_most_once_per_interval()
    {
        TestClient a = await _h.ConnectAsync(_alice);
        TestClient a2 = await _h.ConnectAsync(_alice);

        await _h.SendAsync(a, new { type = "typing", conversation = _general });
        await _h.SendAsync(a2, new { type = "typing", conversation = _general });
        _h.Time.Advance(TimeSpan.FromSeconds(1.9));
        await _h.SendAsync(a, new { type = "typing", conversation = _general });
        Assert.Single(_b.OfType("typing"));
        _h.Time.Advance(TimeSpan.FromSeconds(0.2));
        await _h.SendAsync(a, new { type = "typing", conversation = _general });

        Assert.Equal(2, _b.OfType("typing").Count);
        Assert.Equal("alice", _b.Last("typing").Str("username"));
        Assert.Equal(_general, _b.Last("typing").Long("conversation"));
        Assert.Empty(a.OfType("typing"));
        Assert.Empty(a2.OfType("typing"));
        Assert.Empty(_stranger.OfType("typing"));
        Assert.Empty(a.OfType("error"));
    }

    [Fact]
    public async Task A_new_display_name_is_stored_and_shown_to_contacts_and_your_other_tabs()
    {
        TestClient a1 = await _h.ConnectAsync(_alice);
        TestClient a2 = await _h.ConnectAsync(_alice);

        await _h.SendAsync(a1, new { type = "profile", displayName = "Alice 🌷 Liddell", @ref = "p" });

        foreach (TestClient client in new[] { a1, a2, _b })
        {
            JsonElement profile = client.Single("profile");
            Assert.Equal("alice", profile.Str("username"));
            Assert.Equal("Alice 🌷 Liddell", profile.Str("displayName"));
        }

        Assert.Empty(_stranger.OfType("profile"));
        Assert.Equal("Alice 🌷 Liddell", (await _h.Store.GetAccountAsync(_alice.Id))!.DisplayName);
        Assert.Equal("Alice 🌷 Liddell", (await _h.SayAsync(a1, _general, "new name")).Str("authorName"));
        TestClient a3 = await _h.ConnectAsync(_alice);
        Assert.Equal("Alice 🌷 Liddell", a3.Received[0].GetProperty("you").Str("displayName"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("two\nlines")]
    [InlineData("\u202Eevil")]
    [InlineData("this display name is much longer than forty characters")]
    public async Task Display_names_are_checked(string displayName)
    {
        TestClient a = await _h.ConnectAsync(_alice);

        await _h.SendAsync(a, new { type = "profile", displayName, @ref = "p" });

        Assert.Equal("bad_display_name", a.ErrorCode());
        Assert.StartsWith("A display name is 1 to 40 characters", a.Error().Str("message"));
        Assert.Equal("Alice", (await _h.Store.GetAccountAsync(_alice.Id))!.DisplayName);
        Assert.Empty(_b.OfType("profile"));
    }
}
