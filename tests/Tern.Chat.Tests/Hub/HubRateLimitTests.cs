using System.Text.Json;
using Tern.Chat.Storage;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Hub;

public sealed class HubRateLimitTests : IAsyncLifetime
{
    private HubHarness _h = null!;

    public async Task InitializeAsync() => _h = await HubHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task An_account_sends_at_most_its_message_budget_over_all_its_connections()
    {
        _h.Options.RateLimitCount = 5;
        Account alice = await _h.AccountAsync("alice");
        TestClient a1 = await _h.ConnectAsync(alice);
        TestClient a2 = await _h.ConnectAsync(alice, "198.51.100.7");
        long general = await _h.JoinAsync(a1, "general"); // A join counts as a message.

        for (int i = 0; i < 4; i++)
        {
            await _h.SayAsync(i % 2 == 0 ? a1 : a2, general, $"m{i}");
        }

        await _h.SendAsync(a2, new { type = "say", conversation = general, text = "one too many", @ref = "late" });

        JsonElement error = a2.Error();
        Assert.Equal("rate_limited", error.Str("code"));
        Assert.Equal("late", error.Str("ref"));
        Assert.Equal(general, error.Long("conversation"));
        double retry = error.GetProperty("retryAfterSeconds").GetDouble();
        Assert.InRange(retry, 0.1, 10);
        Assert.StartsWith("Slow down: at most 5 messages per 10 seconds. Try again in ", error.Str("message"));
        Assert.Equal(4, (await _h.Store.GetBeforeAsync(general, null, 100)).Count);

        // Other people are not held back by alice.
        TestClient bob = await _h.ConnectAsync(await _h.AccountAsync("bob"), "203.0.113.9");
        await _h.JoinAsync(bob, "general");
        await _h.SayAsync(bob, general, "fine");
    }

    [Fact]
    public async Task A_hundred_connections_from_one_address_store_no_more_than_the_address_budget()
    {
        _h.Options.AddressRateLimitCount = 30;
        _h.Options.MaxRoomsPerAccount = 50;
        Account owner = await _h.AccountAsync("owner");
        RoomCreation room = await _h.Store.GetOrCreateRoomAsync("general", owner.Id, 10, DateTimeOffset.UnixEpoch);
        long general = room.Room!.Id;
        var accounts = new List<Account>();
        for (int i = 0; i < 20; i++)
        {
            // Members made in the store directly, before the hub looks at the room (it follows changes it makes itself).
            Account account = await _h.AccountAsync($"sock{i}");
            await _h.Store.AddMemberAsync(general, account.Id, DateTimeOffset.UnixEpoch);
            accounts.Add(account);
        }

        var clients = new List<TestClient>();
        foreach (Account account in accounts)
        {
            for (int c = 0; c < 5; c++)
            {
                clients.Add(await _h.ConnectAsync(account, "192.0.2.66"));
            }
        }

        await Task.WhenAll(clients.Select((client, i) => Task.Run(async () =>
        {
            for (int n = 0; n < 3; n++)
            {
                await _h.SendAsync(client, new { type = "say", conversation = general, text = $"spam {i}/{n}", @ref = $"{i}/{n}" });
            }
        })));

        Assert.Equal(30, (await _h.Store.GetBeforeAsync(general, null, 1000)).Count);
        Assert.Contains(clients, c => c.OfType("error").Any(e => e.Str("message").Contains("from one network address", StringComparison.Ordinal)));

        // Another address is not affected.
        TestClient elsewhere = await _h.ConnectAsync(owner, "203.0.113.1");
        await _h.JoinAsync(elsewhere, "general");
        await _h.SayAsync(elsewhere, general, "still fine");
    }

    [Fact]
    public async Task A_flood_of_any_kind_is_limited_per_connection_and_every_refusal_says_what_to_retry()
    {
        _h.Options.RequestLimitCount = 10;
        TestClient client = await _h.ConnectAsync(await _h.AccountAsync("alice"));
        long general = await _h.JoinAsync(client, "general");

        for (int i = 0; i < 9; i++)
        {
            await _h.SendRawAsync(client, "garbage");
        }

        Assert.Equal(9, client.OfType("error").Count(e => e.Str("code") == "bad_json"));
        await _h.SendAsync(client, new { type = "read", conversation = general, id = 1, @ref = "r" });

        JsonElement error = client.Error();
        Assert.Equal("rate_limited", error.Str("code"));
        Assert.Equal("r", error.Str("ref"));
        Assert.Equal(general, error.Long("conversation"));
        Assert.True(error.Has("retryAfterSeconds"));
        Assert.StartsWith("Slow down: at most 10 requests per 10 seconds.", error.Str("message"));
        await _h.SendRawAsync(client, "garbage");
        Assert.Equal("rate_limited", client.ErrorCode());

        // The limit is the connection's: another tab of the same account is not refused.
        TestClient other = await _h.ConnectAsync(await _h.AccountAsync("bob"));
        await _h.SendAsync(other, new { type = "rooms", @ref = "mine" });
        // Only the answer carries the ref; the directory push after alice's join may come too, at any moment.
        Assert.Single(other.OfType("rooms"), m => m.TryGetProperty("ref", out JsonElement r) && r.ValueKind == JsonValueKind.String && r.GetString() == "mine");
        Assert.DoesNotContain(other.OfType("error"), e => e.Str("code") == "rate_limited");
    }

    [Fact]
    public async Task Pulling_history_spends_a_byte_budget()
    {
        _h.Options.PullBudgetBytes = 20_000;
        _h.Options.RateLimitCount = 100;
        TestClient client = await _h.ConnectAsync(await _h.AccountAsync("alice"));
        long general = await _h.JoinAsync(client, "general");
        for (int i = 0; i < 5; i++)
        {
            await _h.SayAsync(client, general, new string('x', 3000));
        }

        // Each page is about 15 KB: the first fits, the second does not.
        await _h.SendAsync(client, new { type = "history", conversation = general, @ref = "1" });
        await _h.SendAsync(client, new { type = "history", conversation = general, @ref = "2" });

        Assert.Single(client.OfType("history"));
        JsonElement error = client.Error();
        Assert.Equal("rate_limited", error.Str("code"));
        Assert.Equal("2", error.Str("ref"));
        Assert.Equal(general, error.Long("conversation"));
        Assert.Contains("of history", error.Str("message"));
    }

    [Fact]
    public async Task Many_connections_of_one_account_share_one_pull_budget()
    {
        // Each connection may pull 20 KB; the account, all its tabs together, 40 KB. Pages are about 15.5 KB.
        _h.Options.PullBudgetBytes = 20_000;
        _h.Options.AccountPullBudgetBytes = 40_000;
        _h.Options.RateLimitCount = 100;
        Account alice = await _h.AccountAsync("alice");
        TestClient writer = await _h.ConnectAsync(alice);
        long general = await _h.JoinAsync(writer, "general");
        for (int i = 0; i < 5; i++)
        {
            await _h.SayAsync(writer, general, new string('x', 3000));
        }

        var tabs = new List<TestClient>();
        for (int i = 0; i < 10; i++)
        {
            TestClient tab = await _h.ConnectAsync(alice);
            await _h.SendAsync(tab, new { type = "history", conversation = general, @ref = "h" });
            tabs.Add(tab);
        }

        // Ten connections, each well within its own budget, got two pages between them, not ten.
        Assert.Equal(2, tabs.Sum(t => t.OfType("history").Count));
        JsonElement error = tabs[^1].Error();
        Assert.Equal("rate_limited", error.Str("code"));
        Assert.Equal("h", error.Str("ref"));
        Assert.Contains("per account", error.Str("message"));

        // Another account is not held back by alice's pulling.
        TestClient bob = await _h.ConnectAsync(await _h.AccountAsync("bob"));
        await _h.JoinAsync(bob, "general");
        await _h.SendAsync(bob, new { type = "history", conversation = general });
        Assert.Single(bob.OfType("history"));
    }

    [Fact]
    public async Task An_ipv6_network_counts_as_one_address_however_many_of_its_addresses_it_uses()
    {
        _h.Options.AddressRateLimitCount = 3;
        _h.Options.RateLimitCount = 100;
        Account owner = await _h.AccountAsync("owner");
        long general = (await _h.Store.GetOrCreateRoomAsync("general", owner.Id, 10, DateTimeOffset.UnixEpoch)).Room!.Id;
        var accounts = new List<Account>();
        for (int i = 0; i < 5; i++)
        {
            // Members made in the store directly, before the hub looks at the room (it follows changes it makes itself).
            Account account = await _h.AccountAsync($"v6sock{i}");
            await _h.Store.AddMemberAsync(general, account.Id, DateTimeOffset.UnixEpoch);
            accounts.Add(account);
        }

        Account other = await _h.AccountAsync("neighbour");
        await _h.Store.AddMemberAsync(general, other.Id, DateTimeOffset.UnixEpoch);
        var clients = new List<TestClient>();
        for (int i = 0; i < accounts.Count; i++)
        {
            clients.Add(await _h.ConnectAsync(accounts[i], $"2001:db8:1:2::{i + 1:x}"));
        }

        foreach (TestClient client in clients)
        {
            await _h.SendAsync(client, new { type = "say", conversation = general, text = "spam" });
        }

        Assert.Equal(3, (await _h.Store.GetBeforeAsync(general, null, 100)).Count);
        Assert.Equal("rate_limited", clients[^1].ErrorCode());

        // Another /64 is another subscriber.
        await _h.SayAsync(await _h.ConnectAsync(other, "2001:db8:1:3::1"), general, "fine");
    }
}
