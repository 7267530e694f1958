using System.Text;
using System.Text.Json;
using Tern.Chat.Storage;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Hub;

public sealed class HubConversationTests : IAsyncLifetime
{
    private HubHarness _h = null!;

    public async Task InitializeAsync() => _h = await HubHarness.StartAsync();

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task Joining_answers_every_connection_of_yours_and_tells_the_other_members_once()
    {
        Account alice = await _h.AccountAsync("alice");
        Account bob = await _h.AccountAsync("bob");
        TestClient a1 = await _h.ConnectAsync(alice);
        TestClient a2 = await _h.ConnectAsync(alice);
        TestClient b1 = await _h.ConnectAsync(bob);
        long general = await _h.JoinAsync(b1, "General");

        await _h.SendAsync(a1, new { type = "join", room = "GENERAL", @ref = "j1" });

        JsonElement joined = a1.Single("joined");
        Assert.Equal("j1", joined.Str("ref"));
        Assert.Equal(general, joined.GetProperty("conversation").Long("id"));
        Assert.Equal("general", joined.GetProperty("conversation").Str("name"));
        Assert.Equal(2, joined.GetProperty("conversation").Int("members"));
        Assert.Equal(["alice", "bob"], joined.GetProperty("members").EnumerateArray().Select(m => m.Str("username")));
        Assert.All(joined.GetProperty("members").EnumerateArray(), m => Assert.Equal("online", m.Str("status")));
        Assert.Single(a2.OfType("joined"));
        JsonElement announced = b1.Single("member_joined");
        Assert.Equal("alice", announced.GetProperty("member").Str("username"));
        Assert.Equal("Alice", announced.GetProperty("member").Str("displayName"));
        Assert.Equal(2, announced.Int("members"));
        Assert.Empty(a1.OfType("member_joined"));

        // Joining again: the answer again, to that connection only, and no announcement.
        await _h.SendAsync(a2, new { type = "join", room = "general", @ref = "j2" });
        Assert.Equal("j2", a2.Last("joined").Str("ref"));
        Assert.Single(a1.OfType("joined"));
        Assert.Single(b1.OfType("member_joined"));
    }

    [Fact]
    public async Task Room_names_are_checked()
    {
        TestClient client = await _h.ConnectAsync(await _h.AccountAsync("alice"));

        await _h.SendAsync(client, new { type = "join", room = "no spaces", @ref = "x" });
        Assert.Equal("bad_room", client.ErrorCode());
        await _h.SendAsync(client, new { type = "join", room = new string('a', 33) });
        Assert.Equal("bad_room", client.ErrorCode());
        await _h.SendAsync(client, new { type = "join" });
        Assert.Equal("missing_field", client.ErrorCode());
    }

    [Fact]
    public async Task Leaving_tells_your_connections_and_the_remaining_members_and_ends_delivery()
    {
        Account alice = await _h.AccountAsync("alice");
        Account bob = await _h.AccountAsync("bob");
        TestClient a1 = await _h.ConnectAsync(alice);
        TestClient a2 = await _h.ConnectAsync(alice);
        TestClient b1 = await _h.ConnectAsync(bob);
        long general = await _h.JoinAsync(a1, "general");
        await _h.JoinAsync(b1, "general");

        await _h.SendAsync(a1, new { type = "leave", conversation = general, @ref = "l" });

        Assert.Equal("l", a1.Single("left").Str("ref"));
        Assert.Equal(general, a2.Single("left").Long("conversation"));
        JsonElement left = b1.Single("member_left");
        Assert.Equal("alice", left.Str("username"));
        Assert.Equal(1, left.Int("members"));
        a1.Clear();
        await _h.SayAsync(b1, general, "after she left");
        Assert.Empty(a1.OfType("message"));

        await _h.SendAsync(a1, new { type = "leave", conversation = general, @ref = "again" });
        Assert.Equal("not_member", a1.ErrorCode());
        Assert.Equal(general, a1.Error().Long("conversation"));
        await _h.SendAsync(a1, new { type = "say", conversation = general, text = "hi" });
        Assert.Equal("not_member", a1.ErrorCode());
    }

    [Fact]
    public async Task A_direct_conversation_opens_for_both_and_cannot_be_left()
    {
        Account alice = await _h.AccountAsync("alice");
        Account bob = await _h.AccountAsync("Bob");
        TestClient a1 = await _h.ConnectAsync(alice);
        TestClient b1 = await _h.ConnectAsync(bob);

        await _h.SendAsync(a1, new { type = "dm", username = "BOB", @ref = "d" });

        JsonElement mine = a1.Single("conversation");
        Assert.Equal("d", mine.Str("ref"));
        Assert.Equal("direct", mine.GetProperty("conversation").Str("kind"));
        Assert.Equal("Bob", mine.GetProperty("conversation").GetProperty("with").Str("username"));
        Assert.Equal(2, mine.GetProperty("conversation").Int("members"));
        JsonElement theirs = b1.Single("conversation");
        Assert.Equal("alice", theirs.GetProperty("conversation").GetProperty("with").Str("username"));
        Assert.False(theirs.Has("ref"));
        long direct = mine.GetProperty("conversation").Long("id");
        Assert.Equal(direct, theirs.GetProperty("conversation").Long("id"));

        JsonElement message = await _h.SayAsync(b1, direct, "hello alice");
        Assert.Equal(message.Long("id"), a1.Last("message").Long("id"));

        // Opening it again finds the same conversation; the other side hears nothing new.
        _h.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(direct, await _h.DirectAsync(a1, "bob"));
        Assert.Single(b1.OfType("conversation"));

        await _h.SendAsync(a1, new { type = "leave", conversation = direct });
        Assert.Equal("not_a_room", a1.ErrorCode());
    }

    [Fact]
    public async Task Direct_conversations_need_an_existing_other_account()
    {
        TestClient client = await _h.ConnectAsync(await _h.AccountAsync("alice"));

        await _h.SendAsync(client, new { type = "dm", username = "dave", @ref = "d" });
        Assert.Equal("no_such_user", client.ErrorCode());
        Assert.Equal("There is no account called 'dave'.", client.Error().Str("message"));
        await _h.SendAsync(client, new { type = "dm", username = "Alice" });
        Assert.Equal("no_such_user", client.ErrorCode());
        await _h.SendAsync(client, new { type = "dm" });
        Assert.Equal("missing_field", client.ErrorCode());
    }

    [Fact]
    public async Task Members_lists_names_and_presence()
    {
        Account alice = await _h.AccountAsync("alice");
        Account bob = await _h.AccountAsync("bob", "Robert");
        TestClient a1 = await _h.ConnectAsync(alice);
        TestClient b1 = await _h.ConnectAsync(bob);
        long general = await _h.JoinAsync(a1, "general");
        await _h.JoinAsync(b1, "general");
        await _h.Hub.DisconnectAsync(b1);

        await _h.SendAsync(a1, new { type = "members", conversation = general, @ref = "m" });

        JsonElement members = a1.Single("members");
        Assert.Equal("m", members.Str("ref"));
        Assert.Equal(
            ["alice Alice online", "bob Robert offline"],
            members.GetProperty("members").EnumerateArray().Select(m => $"{m.Str("username")} {m.Str("displayName")} {m.Str("status")}"));
    }

    [Fact]
    public async Task An_account_can_be_in_a_limited_number_of_rooms_and_direct_conversations_do_not_count()
    {
        _h.Options.MaxRoomsPerAccount = 2;
        TestClient client = await _h.ConnectAsync(await _h.AccountAsync("alice"));
        await _h.AccountAsync("bob");
        await _h.JoinAsync(client, "one");
        await _h.JoinAsync(client, "two");
        await _h.DirectAsync(client, "bob");

        await _h.SendAsync(client, new { type = "join", room = "three", @ref = "t" });

        Assert.Equal("too_many_rooms", client.ErrorCode());
        Assert.Equal("You can be in at most 2 rooms; leave one first.", client.Error().Str("message"));
        Assert.Null(await _h.Store.FindRoomAsync("three"));
    }

    [Fact]
    public async Task The_server_holds_a_limited_number_of_rooms()
    {
        _h.Options.MaxRooms = 2;
        TestClient alice = await _h.ConnectAsync(await _h.AccountAsync("alice"));
        TestClient bob = await _h.ConnectAsync(await _h.AccountAsync("bob"));
        await _h.JoinAsync(alice, "one");
        await _h.JoinAsync(alice, "two");

        await _h.SendAsync(bob, new { type = "join", room = "three" });
        Assert.Equal("room_limit", bob.ErrorCode());

        await _h.JoinAsync(bob, "two"); // Existing rooms stay open.
    }

    [Fact]
    public async Task Creating_rooms_is_limited_per_account_and_per_address_so_one_person_cannot_use_up_the_server()
    {
        // Join and leave freed the account's own room count, so one account could create every room the server allows.
        _h.Options.RoomCreationLimit = 3;
        _h.Options.AddressRoomCreationLimit = 4;
        _h.Options.RateLimitCount = 100;
        _h.Options.AddressRateLimitCount = 100;
        Account mallory = await _h.AccountAsync("mallory");
        TestClient m = await _h.ConnectAsync(mallory, "192.0.2.66");
        for (int i = 0; i < 3; i++)
        {
            long room = await _h.JoinAsync(m, "squat" + i);
            await _h.SendAsync(m, new { type = "leave", conversation = room });
        }

        await _h.SendAsync(m, new { type = "join", room = "squat3", @ref = "j" });
        JsonElement error = m.Error();
        Assert.Equal("rate_limited", error.Str("code"));
        Assert.Equal("j", error.Str("ref"));
        Assert.Contains("new rooms", error.Str("message"));
        Assert.True(error.Has("retryAfterSeconds"));
        Assert.Null(await _h.Store.FindRoomAsync("squat3"));
        await _h.JoinAsync(m, "squat0"); // Rooms that exist can still be joined.

        // A second account on the same address gets what is left of the address's allowance: one room.
        TestClient sock = await _h.ConnectAsync(await _h.AccountAsync("sock"), "192.0.2.66");
        await _h.JoinAsync(sock, "sock-room");
        await _h.SendAsync(sock, new { type = "join", room = "sock-room2" });
        Assert.Equal("rate_limited", sock.ErrorCode());

        // Someone elsewhere is not held back.
        TestClient bob = await _h.ConnectAsync(await _h.AccountAsync("bob"), "203.0.113.9");
        await _h.JoinAsync(bob, "bobs-room");
    }

    [Fact]
    public async Task The_directory_lists_the_busiest_rooms_and_your_own()
    {
        _h.Options.RoomDirectorySize = 2;
        Account alice = await _h.AccountAsync("alice");
        Account bob = await _h.AccountAsync("bob");
        Account carol = await _h.AccountAsync("carol");
        TestClient a = await _h.ConnectAsync(alice);
        TestClient b = await _h.ConnectAsync(bob);
        TestClient c = await _h.ConnectAsync(carol);
        foreach (TestClient client in new[] { a, b, c })
        {
            await _h.JoinAsync(client, "big");
        }

        await _h.JoinAsync(a, "middle");
        await _h.JoinAsync(b, "middle");
        await _h.JoinAsync(c, "quiet");

        await _h.SendAsync(c, new { type = "rooms", @ref = "r" });
        Assert.Equal(["big 3", "middle 2", "quiet 1"], c.Last("rooms").GetProperty("rooms").EnumerateArray().Select(r => $"{r.Str("name")} {r.Int("members")}"));
        await _h.SendAsync(a, new { type = "rooms" });
        Assert.Equal(["big", "middle"], a.Last("rooms").GetProperty("rooms").EnumerateArray().Select(r => r.Str("name")));
    }

    [Fact]
    public async Task Membership_changes_push_the_directory_coalesced_and_small_even_with_thousands_of_rooms()
    {
        _h.Options.MaxRooms = 3000;
        _h.Options.RoomListDelay = TimeSpan.FromMilliseconds(200);
        Account owner = await _h.AccountAsync("owner");
        for (int i = 0; i < 2000; i++)
        {
            RoomCreation room = await _h.Store.GetOrCreateRoomAsync($"room-{i:D4}-with-a-rather-long", owner.Id, 3000, DateTimeOffset.UnixEpoch);
            await _h.Store.AddMemberAsync(room.Room!.Id, owner.Id, DateTimeOffset.UnixEpoch);
        }

        TestClient watcher = await _h.ConnectAsync(await _h.AccountAsync("watcher"));
        TestClient joiner = await _h.ConnectAsync(await _h.AccountAsync("joiner"));
        await _h.JoinAsync(joiner, "room-0001-with-a-rather-long");
        await _h.JoinAsync(joiner, "room-0002-with-a-rather-long");
        await _h.JoinAsync(joiner, "room-0003-with-a-rather-long");

        JsonElement pushed = await watcher.WaitForAsync("rooms");
        await Task.Delay(500);
        Assert.Single(watcher.OfType("rooms"));
        Assert.Equal(50, pushed.GetProperty("rooms").GetArrayLength());
        Assert.True(Encoding.UTF8.GetByteCount(pushed.GetRawText()) < 8 * 1024, $"{pushed.GetRawText().Length} bytes");
        Assert.Equal(2, pushed.GetProperty("rooms")[0].Int("members"));
    }
}
