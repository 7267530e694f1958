using System.Text.Json;
using Tern.Chat.Hub;
using Tern.Chat.Storage;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Hub;

public sealed class HubConnectionTests : IAsyncLifetime
{
    private HubHarness _h = null!;

    public async Task InitializeAsync() => _h = await HubHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task Hello_tells_who_you_are_the_limits_your_conversations_the_rooms_and_who_is_around()
    {
        Account alice = await _h.AccountAsync("alice");
        Account bob = await _h.AccountAsync("bob");
        Account carol = await _h.AccountAsync("carol");
        TestClient bobClient = await _h.ConnectAsync(bob);
        await _h.ConnectAsync(carol); // Shares nothing with alice: not in her presence list.
        TestClient first = await _h.ConnectAsync(alice);
        long general = await _h.JoinAsync(first, "general");
        await _h.JoinAsync(bobClient, "general");
        await _h.SayAsync(bobClient, general, "one");
        await _h.SayAsync(bobClient, general, "two @alice");

        TestClient second = await _h.ConnectAsync(alice);

        JsonElement hello = second.Received[0];
        Assert.Equal("Tern.Chat", hello.Str("server"));
        Assert.Equal(_h.Store.HistoryId, hello.Str("historyId"));
        Assert.Equal("alice", hello.GetProperty("you").Str("username"));
        Assert.Equal("Alice", hello.GetProperty("you").Str("displayName"));
        JsonElement limits = hello.GetProperty("limits");
        Assert.Equal(4000, limits.Int("maxTextLength"));
        Assert.Equal(200, limits.Int("maxTextLines"));
        Assert.Equal(20, limits.Int("rateLimitCount"));
        Assert.Equal(50, limits.Int("maxRoomsPerAccount"));
        JsonElement conversation = Assert.Single(hello.GetProperty("conversations").EnumerateArray());
        Assert.Equal(general, conversation.Long("id"));
        Assert.Equal("room", conversation.Str("kind"));
        Assert.Equal("general", conversation.Str("name"));
        Assert.Equal(2, conversation.Int("members"));
        Assert.Equal(2, conversation.Int("unread"));
        Assert.Equal(1, conversation.Int("mentions"));
        Assert.False(conversation.Has("with"));
        JsonElement room = Assert.Single(hello.GetProperty("rooms").EnumerateArray());
        Assert.Equal(2, room.Int("members"));
        JsonElement presence = Assert.Single(hello.GetProperty("presence").EnumerateArray());
        Assert.Equal("bob", presence.Str("username"));
        Assert.Equal("online", presence.Str("status"));
    }

    [Fact]
    public async Task When_the_fan_out_lost_events_every_connection_closes_with_1012_and_members_are_read_again()
    {
        Account alice = await _h.AccountAsync("alice");
        TestClient first = await _h.ConnectAsync(alice);
        TestClient second = await _h.ConnectAsync(await _h.AccountAsync("bob"));
        long general = await _h.JoinAsync(first, "general");

        // A membership the cache never heard of (as if its event was among the lost ones).
        Account carol = await _h.AccountAsync("carol");
        await _h.Store.AddMemberAsync(general, carol.Id, DateTimeOffset.UtcNow);
        await _h.Fanout.PublishAsync(new ChatEvent(ChatEventKind.Resync, 0, 0, null));

        Assert.Equal([(first.Id, 1012), (second.Id, 1012)], _h.Transport.Closed.Select(c => (c.ClientId, c.Code)).Order());
        TestClient carolClient = await _h.ConnectAsync(carol);
        await _h.SayAsync(carolClient, general, "read from the store again"); // not refused as a non-member
    }

    [Fact]
    public async Task Reconnecting_announces_no_membership_only_presence()
    {
        Account alice = await _h.AccountAsync("alice");
        Account bob = await _h.AccountAsync("bob");
        TestClient aliceClient = await _h.ConnectAsync(alice);
        TestClient bobClient = await _h.ConnectAsync(bob);
        await _h.JoinAsync(aliceClient, "general");
        await _h.JoinAsync(bobClient, "general");
        bobClient.Clear();

        await _h.Hub.DisconnectAsync(aliceClient);
        await _h.ConnectAsync(alice);

        Assert.Empty(bobClient.OfType("member_left"));
        Assert.Empty(bobClient.OfType("member_joined"));
        Assert.Equal(["offline", "online"], bobClient.OfType("presence").Select(p => p.Str("status")));
    }

    [Fact]
    public async Task A_connection_whose_session_expired_or_went_away_is_closed_with_4001_at_the_next_check()
    {
        Account alice = await _h.AccountAsync("alice");
        Account bob = await _h.AccountAsync("bob");
        DateTimeOffset now = _h.Time.GetUtcNow();
        await _h.Store.CreateSessionAsync(new SessionRecord("alice-short", alice.Id, now, now, now.AddHours(1)));
        await _h.Store.CreateSessionAsync(new SessionRecord("alice-long", alice.Id, now, now, now.AddDays(30)));
        await _h.Store.CreateSessionAsync(new SessionRecord("bob-session", bob.Id, now, now, now.AddDays(30)));
        var a1 = new TestClient(101);
        var a2 = new TestClient(102);
        var b1 = new TestClient(103);
        await _h.Hub.ConnectAsync(a1, new ChatIdentity(alice.Id, alice.Username, alice.DisplayName, "alice-short"), "192.0.2.1");
        await _h.Hub.ConnectAsync(a2, new ChatIdentity(alice.Id, alice.Username, alice.DisplayName, "alice-long"), "192.0.2.1");
        await _h.Hub.ConnectAsync(b1, new ChatIdentity(bob.Id, bob.Username, bob.DisplayName, "bob-session"), "192.0.2.1");

        Assert.Equal(0, await _h.Hub.CloseExpiredSessionsAsync());
        Assert.Empty(_h.Transport.Closed);

        _h.Time.Advance(TimeSpan.FromHours(2));
        await _h.Store.DeleteSessionAsync("bob-session"); // revoked behind the hub's back (another process, a clean-up)
        Assert.Equal(2, await _h.Hub.CloseExpiredSessionsAsync());

        Assert.Equal([(a1.Id, 4001, "signed out"), (b1.Id, 4001, "signed out")], _h.Transport.Closed.OrderBy(c => c.ClientId));
        a2.Clear();
        await _h.SendAsync(a2, new { type = "rooms" });
        Assert.NotEmpty(a2.Received); // the live session's connection goes on
    }

    [Fact]
    public async Task Signing_out_closes_every_connection_of_that_account_only_with_4001()
    {
        Account alice = await _h.AccountAsync("alice");
        Account bob = await _h.AccountAsync("bob");
        TestClient a1 = await _h.ConnectAsync(alice);
        TestClient a2 = await _h.ConnectAsync(alice);
        TestClient b1 = await _h.ConnectAsync(bob);
        long general = await _h.JoinAsync(b1, "general");

        await _h.Hub.SignOutAsync(alice.Id);

        Assert.Equal([(a1.Id, 4001, "signed out"), (a2.Id, 4001, "signed out")], _h.Transport.Closed.OrderBy(c => c.ClientId));
        Assert.DoesNotContain(_h.Transport.Closed, c => c.ClientId == b1.Id);

        // Whatever a closing connection still sends does nothing.
        a1.Clear();
        await _h.SendAsync(a1, new { type = "join", room = "general" });
        Assert.Empty(a1.Received);
        Assert.Single(await _h.Store.GetMembersAsync(general));
    }

    [Fact]
    public async Task Malformed_frames_are_answered_precisely_and_never_throw()
    {
        TestClient client = await _h.ConnectAsync(await _h.AccountAsync("alice"));

        await _h.SendRawAsync(client, "{not json");
        Assert.Equal("bad_json", client.ErrorCode());
        Assert.StartsWith("Malformed JSON:", client.Error().Str("message"));

        await _h.SendRawAsync(client, "[1,2]");
        Assert.Equal("bad_json", client.ErrorCode());
        Assert.StartsWith("Expected a JSON object", client.Error().Str("message"));

        await _h.SendRawAsync(client, """{"type":"say","conversation":"one","text":"x","ref":"r1"}""");
        JsonElement badField = client.Error();
        Assert.Equal("bad_field", badField.Str("code"));
        Assert.Equal("Field 'conversation' must be a whole number.", badField.Str("message"));
        Assert.Equal("r1", badField.Str("ref"));

        await _h.SendRawAsync(client, """{"type":"say","conversation":1,"ref":"r2"}""");
        Assert.Equal("missing_field", client.ErrorCode());
        Assert.Equal("Field 'text' is required for 'say'.", client.Error().Str("message"));
        Assert.Equal(1, client.Error().Long("conversation"));

        await _h.SendRawAsync(client, """{"text":"no type"}""");
        Assert.Equal("missing_field", client.ErrorCode());

        await _h.SendRawAsync(client, """{"type":"shout","ref":"r3"}""");
        Assert.Equal("unknown_type", client.ErrorCode());
        Assert.Contains("'shout'", client.Error().Str("message"));
        Assert.Equal("r3", client.Error().Str("ref"));

        await _h.SendRawAsync(client, """{"type":"rooms","ref":"REFERENCE-LONGER-THAN-SIXTY-FOUR-CHARACTERS-IS-REFUSED-XXXXXXXXXXXXXXX"}""");
        Assert.Equal("bad_field", client.ErrorCode());
        Assert.Contains("'ref'", client.Error().Str("message"));

        await _h.Hub.ReceiveBinaryAsync(client);
        Assert.Equal("binary_not_supported", client.ErrorCode());

        await _h.SendRawAsync(client, """{"type":"rooms","unknown":true,"ref":"ok"}""");
        Assert.Equal("ok", client.Last("rooms").Str("ref"));
    }

    [Fact]
    public async Task A_store_failure_is_a_server_error_not_an_exception()
    {
        TestClient client = await _h.ConnectAsync(await _h.AccountAsync("alice"));
        await _h.Store.DisposeAsync();

        await _h.SendAsync(client, new { type = "join", room = "general", @ref = "j" });

        Assert.Equal("server_error", client.ErrorCode());
        Assert.Equal("j", client.Error().Str("ref"));
    }

    [Fact]
    public async Task Connecting_the_same_client_twice_is_a_programming_error()
    {
        Account alice = await _h.AccountAsync("alice");
        TestClient client = await _h.ConnectAsync(alice);

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await _h.Hub.ConnectAsync(client, new ChatIdentity(alice.Id, alice.Username, alice.DisplayName), "192.0.2.1"));
        Assert.Equal(1, _h.Hub.ConnectionCount);
    }

    [Fact]
    public async Task Messages_for_a_connection_that_has_not_had_its_hello_wait_behind_it()
    {
        _h.Options.RateLimitCount = _h.Options.AddressRateLimitCount = _h.Options.RequestLimitCount = 1000;
        Account alice = await _h.AccountAsync("alice");
        Account bob = await _h.AccountAsync("bob");
        TestClient bobClient = await _h.ConnectAsync(bob);
        long general = await _h.JoinAsync(bobClient, "general");
        TestClient aliceFirst = await _h.ConnectAsync(alice);
        await _h.JoinAsync(aliceFirst, "general");

        // Bob writes while alice's second tab connects, over and over: hello is always its first message.
        for (int round = 0; round < 20; round++)
        {
            var client = new TestClient(1000 + round);
            Task writing = Task.Run(async () =>
            {
                for (int i = 0; i < 5; i++)
                {
                    await _h.SayAsync(bobClient, general, $"r{round} m{i}");
                }
            });
            await _h.Hub.ConnectAsync(client, new ChatIdentity(alice.Id, alice.Username, alice.DisplayName), "192.0.2.1");
            await writing;
            Assert.Equal("hello", client.Received[0].Str("type"));
            _h.Time.Advance(TimeSpan.FromSeconds(1));
        }
    }
}
