using System.Text.Json;
using Tern.Chat.Hub;
using Tern.Chat.Storage;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Hub;

public sealed class LegacyChatHubTests : IAsyncLifetime
{
    private readonly RecordingTransport _transport = new();
    private readonly ManualTimeProvider _time = new();
    private readonly ChatHubOptions _options = new() { ReconnectGrace = TimeSpan.Zero, RoomListDelay = TimeSpan.FromMilliseconds(20) };
    private IChatStore _store = new InMemoryChatStore();
    private LegacyChatHub _hub = null!;
    private long _nextId;

    public Task InitializeAsync()
    {
        _hub = CreateHub();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        await _store.DisposeAsync();
    }

    [Fact]
    public async Task A_new_connection_gets_hello_with_limits_history_id_and_rooms()
    {
        TestClient client = await ConnectAsync();

        JsonElement hello = client.Single("hello");
        Assert.Equal(_store.HistoryId, hello.Str("historyId"));
        Assert.Equal(4000, hello.GetProperty("limits").GetProperty("maxTextLength").GetInt32());
        Assert.Equal(20, hello.GetProperty("limits").GetProperty("rateLimitCount").GetInt32());
        Assert.Equal(10, hello.GetProperty("limits").GetProperty("rateLimitWindowSeconds").GetInt32());
        JsonElement general = Assert.Single(hello.GetProperty("rooms").EnumerateArray());
        Assert.Equal("general", general.Str("room"));
        Assert.Equal(0, general.GetProperty("members").GetInt32());
    }

    [Fact]
    public async Task Joining_answers_with_members_and_token_and_tells_the_room()
    {
        TestClient alice = await JoinAsync("alice", "general");
        TestClient bob = await JoinAsync("bob", "general");

        JsonElement joined = bob.Single("joined");
        Assert.Equal("general", joined.Str("room"));
        Assert.Equal("bob", joined.Str("nick"));
        Assert.False(string.IsNullOrEmpty(joined.Str("token")));
        Assert.False(joined.GetProperty("resumed").GetBoolean());
        Assert.Equal(["alice", "bob"], joined.GetProperty("members").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal("bob", alice.Last("join").Str("nick"));
        Assert.Equal(["alice", "bob"], _hub.GetMembers("general"));
    }

    [Fact]
    public async Task Room_names_are_case_insensitive_and_nicknames_unique_per_room_ignoring_case()
    {
        await JoinAsync("Alice", "Lobby");
        TestClient other = await ConnectAsync();

        await SendAsync(other, """{"type":"join","room":"lobby","nick":"ALICE","ref":"j1"}""");
        JsonElement error = other.Single("error");
        Assert.Equal("nick_taken", error.Str("code"));
        Assert.Equal("The nickname 'Alice' is already taken in room 'lobby'; choose another.", error.Str("message"));
        Assert.Equal("j1", error.Str("ref"));

        await SendAsync(other, """{"type":"join","room":"elsewhere","nick":"alice"}""");
        Assert.Equal("elsewhere", other.Single("joined").Str("room"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("<script>")]
    [InlineData("-dash")]
    [InlineData(".dot")]
    [InlineData("abcdefghijklmnopqrstuvwxy")] // 25
    [InlineData("tab\t")]
    public async Task Invalid_nicknames_are_refused(string nick)
    {
        TestClient client = await ConnectAsync();

        await SendAsync(client, JsonSerializer.Serialize(new { type = "join", room = "general", nick }));

        Assert.Equal("bad_nick", client.Single("error").Str("code"));
        Assert.Empty(client.OfType("joined"));
    }

    [Theory]
    [InlineData("Zoë")]
    [InlineData("bob_1")]
    [InlineData("a.b-c")]
    [InlineData("abcdefghijklmnopqrstuvwx")] // 24
    [InlineData("東京")]
    public async Task Valid_nicknames_are_accepted(string nick)
    {
        TestClient client = await JoinAsync(nick, "general");

        Assert.Equal(nick, client.Single("joined").Str("nick"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("two words")]
    [InlineData("../etc")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456")] // 33
    public async Task Invalid_room_names_are_refused(string room)
    {
        TestClient client = await ConnectAsync();

        await SendAsync(client, JsonSerializer.Serialize(new { type = "join", room, nick = "alice" }));

        Assert.Equal("bad_room", client.Single("error").Str("code"));
    }

    [Fact]
    public async Task Messages_reach_everyone_in_the_room_with_id_time_and_ref_and_nobody_else()
    {
        TestClient alice = await JoinAsync("alice", "general");
        TestClient bob = await JoinAsync("bob", "general");
        TestClient carol = await JoinAsync("carol", "other");

        await SendAsync(alice, """{"type":"say","room":"general","text":"hello <b>bob</b>","ref":"r1"}""");
        await SendAsync(bob, """{"type":"say","room":"general","text":"hi alice"}""");

        foreach (TestClient member in new[] { alice, bob })
        {
            IReadOnlyList<JsonElement> messages = member.OfType("message");
            Assert.Equal(2, messages.Count);
            Assert.Equal("hello <b>bob</b>", messages[0].Str("text"));
            Assert.Equal("alice", messages[0].Str("nick"));
            Assert.Equal("r1", messages[0].Str("ref"));
            Assert.Equal(_time.GetUtcNow(), messages[0].GetProperty("time").GetDateTimeOffset());
            Assert.True(messages[1].Long("id") > messages[0].Long("id"));
        }

        Assert.Empty(carol.OfType("message"));
    }

    [Fact]
    public async Task Concurrent_senders_produce_one_order_that_every_member_sees()
    {
        _options.RateLimitCount = 1000;
        TestClient[] members = new TestClient[4];
        for (int i = 0; i < members.Length; i++)
        {
            members[i] = await JoinAsync("user" + i, "general");
        }

        await Task.WhenAll(members.Select(member => Task.Run(async () =>
        {
            for (int n = 0; n < 50; n++)
            {
                await SendAsync(member, JsonSerializer.Serialize(new { type = "say", room = "general", text = $"{member.Id}:{n}" }));
            }
        })));

        long[] expected = members[0].OfType("message").Select(m => m.Long("id")).ToArray();
        Assert.Equal(200, expected.Length);
        Assert.Equal(expected.Order(), expected);
        Assert.All(members, member => Assert.Equal(expected, member.OfType("message").Select(m => m.Long("id"))));
    }

    [Fact]
    public async Task Text_limits_are_enforced_with_specific_errors()
    {
        TestClient alice = await JoinAsync("alice", "general");

        await SendAsync(alice, JsonSerializer.Serialize(new { type = "say", room = "general", text = new string('x', 4001), @ref = "long" }));
        await SendAsync(alice, JsonSerializer.Serialize(new { type = "say", room = "general", text = new string('x', 4000) }));
        await SendAsync(alice, """{"type":"say","room":"general","text":"  \n "}""");
        await SendAsync(alice, """{"type":"say","room":"general","text":"bell\u0007"}""");
        await SendAsync(alice, """{"type":"say","room":"general","text":"tab\tand\r\nlines"}""");

        IReadOnlyList<JsonElement> errors = alice.OfType("error");
        Assert.Equal(["text_too_long", "empty_text", "bad_text"], errors.Select(e => e.Str("code")));
        Assert.Equal("The message is 4001 characters long; the limit is 4000.", errors[0].Str("message"));
        Assert.Equal("long", errors[0].Str("ref"));
        Assert.Equal([4000, 14], alice.OfType("message").Select(m => m.Str("text").Length));
    }

    [Theory]
    [InlineData("not json", "bad_json", "Malformed JSON: ")]
    [InlineData("{\"type\":\"say\"", "bad_json", "Malformed JSON: ")]
    [InlineData("[1,2]", "bad_json", "Expected a JSON object")]
    [InlineData("\"say\"", "bad_json", "Expected a JSON object")]
    [InlineData("{}", "missing_field", "Field 'type' is required.")]
    [InlineData("{\"type\":\"dance\"}", "unknown_type", "Unknown message type 'dance'; expected one of: join, leave, say, private, history, rooms.")]
    [InlineData("{\"type\":\"say\",\"text\":\"x\"}", "missing_field", "Field 'room' is required for 'say'.")]
    [InlineData("{\"type\":\"say\",\"room\":\"general\"}", "missing_field", "Field 'text' is required for 'say'.")]
    [InlineData("{\"type\":\"join\",\"room\":\"general\"}", "missing_field", "Field 'nick' is required for 'join'.")]
    [InlineData("{\"type\":\"private\",\"room\":\"general\",\"text\":\"x\"}", "missing_field", "Field 'to' is required for 'private'.")]
    [InlineData("{\"type\":\"history\",\"room\":\"general\"}", "missing_field", "Field 'after' is required for 'history'.")]
    [InlineData("{\"type\":\"leave\"}", "missing_field", "Field 'room' is required for 'leave'.")]
    [InlineData("{\"type\":\"join\",\"room\":\"general\",\"nick\":\"x\",\"after\":\"12\"}", "bad_field", "Field 'after' must be a whole number.")]
    [InlineData("{\"type\":\"say\",\"room\":\"general\",\"text\":42}", "bad_field", "Field 'text' must be a string.")]
    [InlineData("{\"type\":7}", "bad_field", "Field 'type' must be a string.")]
    public async Task Bad_requests_get_specific_errors_and_the_connection_carries_on(string request, string code, string messageStart)
    {
        TestClient alice = await JoinAsync("alice", "general");
        TestClient bob = await JoinAsync("bob", "general");

        await SendAsync(alice, request);
        await SendAsync(alice, """{"type":"say","room":"general","text":"still here"}""");

        JsonElement error = alice.Single("error");
        Assert.Equal(code, error.Str("code"));
        Assert.StartsWith(messageStart, error.Str("message"), StringComparison.Ordinal);
        Assert.Equal("still here", bob.Single("message").Str("text"));
        Assert.Empty(bob.OfType("error"));
    }

    [Fact]
    public async Task Binary_messages_get_an_error()
    {
        TestClient client = await ConnectAsync();

        await _hub.ReceiveBinaryAsync(client);

        Assert.Equal("binary_not_supported", client.Single("error").Str("code"));
    }

    [Fact]
    public async Task Flooding_is_rate_limited_per_connection_in_a_sliding_window()
    {
        TestClient alice = await JoinAsync("alice", "general"); // joins have their own limit
        TestClient bob = await JoinAsync("bob", "general");

        for (int i = 0; i < 20; i++)
        {
            await SendAsync(alice, JsonSerializer.Serialize(new { type = "say", room = "general", text = $"m{i}" }));
        }

        await SendAsync(alice, """{"type":"say","room":"general","text":"one too many","ref":"x"}""");
        await SendAsync(bob, """{"type":"say","room":"general","text":"bob is not limited"}""");

        JsonElement error = alice.Single("error");
        Assert.Equal("rate_limited", error.Str("code"));
        Assert.Equal("x", error.Str("ref"));
        Assert.StartsWith("Slow down: at most 20 messages per 10 seconds. Try again in 10 s.", error.Str("message"), StringComparison.Ordinal);
        Assert.Equal(10, error.GetProperty("retryAfterSeconds").GetDouble());
        Assert.Equal(21, bob.OfType("message").Count);

        // Up against the message limit, Alice can still change rooms.
        await SendAsync(alice, """{"type":"leave","room":"general"}""");
        await SendAsync(alice, """{"type":"join","room":"general","nick":"alice"}""");
        Assert.Equal(2, alice.OfType("joined").Count);

        _time.Advance(TimeSpan.FromSeconds(9.9));
        await SendAsync(alice, """{"type":"say","room":"general","text":"still too soon"}""");
        Assert.Equal(2, alice.OfType("error").Count);

        _time.Advance(TimeSpan.FromSeconds(0.2));
        await SendAsync(alice, """{"type":"say","room":"general","text":"allowed again"}""");
        Assert.Equal("allowed again", bob.Last("message").Str("text"));
    }

    [Fact]
    public async Task Joins_leaves_and_other_requests_have_their_own_bound()
    {
        _options.RequestRateLimitCount = 4;
        TestClient alice = await JoinAsync("alice", "general"); // 1
        await SendAsync(alice, """{"type":"rooms"}""");        // 2
        await SendAsync(alice, """not json""");                // 3: garbage counts too
        await SendAsync(alice, """{"type":"leave","room":"general"}"""); // 4
        await SendAsync(alice, """{"type":"join","room":"general","nick":"alice","ref":"j"}""");

        JsonElement error = alice.Last("error");
        Assert.Equal("rate_limited", error.Str("code"));
        Assert.Equal("j", error.Str("ref"));
        Assert.StartsWith("Slow down: at most 4 requests per 10 seconds.", error.Str("message"), StringComparison.Ordinal);

        // Messages are counted apart: the refused join did not use up what she may post (she is in no room now).
        await SendAsync(alice, """{"type":"say","room":"general","text":"hi"}""");
        Assert.Equal("not_in_room", alice.Last("error").Str("code"));
    }

    [Fact]
    public async Task Private_messages_reach_only_the_recipient_and_the_sender()
    {
        TestClient alice = await JoinAsync("alice", "general");
        TestClient bob = await JoinAsync("bob", "general");
        TestClient carol = await JoinAsync("carol", "general");

        await SendAsync(alice, """{"type":"private","room":"general","to":"BOB","text":"psst","ref":"p1"}""");

        JsonElement received = bob.Single("private");
        Assert.Equal("alice", received.Str("from"));
        Assert.Equal("bob", received.Str("to"));
        Assert.Equal("psst", received.Str("text"));
        Assert.Equal("p1", alice.Single("private").Str("ref"));
        Assert.Empty(carol.OfType("private"));
        Assert.Empty(await _store.GetRecentAsync("general", 10));

        await SendAsync(alice, """{"type":"private","room":"general","to":"dave","text":"hello?"}""");
        Assert.Equal("no_such_user", alice.Single("error").Str("code"));
        Assert.Equal("Nobody called 'dave' is connected in room 'general'.", alice.Single("error").Str("message"));
    }

    [Fact]
    public async Task Leaving_tells_the_room_and_frees_the_nickname()
    {
        TestClient alice = await JoinAsync("alice", "general");
        TestClient bob = await JoinAsync("bob", "general");

        await SendAsync(alice, """{"type":"leave","room":"general"}""");
        await SendAsync(alice, """{"type":"say","room":"general","text":"gone?"}""");

        Assert.Equal("left", alice.Single("left").Str("reason"));
        JsonElement leave = bob.Single("leave");
        Assert.Equal("alice", leave.Str("nick"));
        Assert.Equal("left", leave.Str("reason"));
        Assert.Equal("not_in_room", alice.Single("error").Str("code"));
        Assert.Equal(["bob"], _hub.GetMembers("general"));

        TestClient newAlice = await JoinAsync("alice", "general");
        Assert.Single(newAlice.OfType("joined"));
    }

    [Fact]
    public async Task Without_grace_a_dropped_connection_leaves_at_once()
    {
        TestClient alice = await JoinAsync("alice", "general");
        TestClient bob = await JoinAsync("bob", "general");

        await _hub.DisconnectAsync(alice);

        Assert.Equal("disconnected", bob.Single("leave").Str("reason"));
        Assert.Equal(["bob"], _hub.GetMembers("general"));
        Assert.Equal(1, _hub.ClientCount);
    }

    [Fact]
    public async Task Within_the_grace_a_reconnect_with_the_token_resumes_silently()
    {
        _options.ReconnectGrace = TimeSpan.FromSeconds(30);
        TestClient alice = await JoinAsync("alice", "general");
        TestClient bob = await JoinAsync("bob", "general");
        string token = alice.Single("joined").Str("token");
        bob.Clear();

        await _hub.DisconnectAsync(alice);
        Assert.Equal(["alice", "bob"], _hub.GetMembers("general"));

        TestClient stranger = await ConnectAsync();
        await SendAsync(stranger, """{"type":"join","room":"general","nick":"alice","token":"wrong"}""");
        Assert.Equal("nick_taken", stranger.Single("error").Str("code"));

        TestClient aliceAgain = await ConnectAsync();
        await SendAsync(aliceAgain, JsonSerializer.Serialize(new { type = "join", room = "general", nick = "alice", token }));
        JsonElement joined = aliceAgain.Single("joined");
        Assert.True(joined.GetProperty("resumed").GetBoolean());
        Assert.Equal(token, joined.Str("token"));

        await SendAsync(bob, """{"type":"say","room":"general","text":"welcome back"}""");
        Assert.Equal("welcome back", aliceAgain.Single("message").Str("text"));
        Assert.Empty(bob.OfType("leave"));
        Assert.Empty(bob.OfType("join"));
    }

    [Fact]
    public async Task After_the_grace_a_dropped_member_leaves()
    {
        _options.ReconnectGrace = TimeSpan.FromMilliseconds(100);
        TestClient alice = await JoinAsync("alice", "general");
        TestClient bob = await JoinAsync("bob", "general");

        await _hub.DisconnectAsync(alice);
        Assert.Empty(bob.OfType("leave"));

        JsonElement leave = await bob.WaitForAsync("leave");
        Assert.Equal("alice", leave.Str("nick"));
        Assert.Equal("disconnected", leave.Str("reason"));
        Assert.Equal(["bob"], _hub.GetMembers("general"));
    }

    [Fact]
    public async Task A_join_with_the_token_takes_the_place_of_a_connection_not_yet_known_dead()
    {
        TestClient ghost = await JoinAsync("alice", "general");
        string token = ghost.Single("joined").Str("token");
        TestClient bob = await JoinAsync("bob", "general");

        TestClient alice = await ConnectAsync();
        await SendAsync(alice, JsonSerializer.Serialize(new { type = "join", room = "general", nick = "alice", token }));
        await SendAsync(ghost, """{"type":"say","room":"general","text":"from the ghost"}""");
        await SendAsync(bob, """{"type":"say","room":"general","text":"hi"}""");

        Assert.Equal("replaced", ghost.Single("left").Str("reason"));
        Assert.Equal("not_in_room", ghost.Single("error").Str("code"));
        Assert.True(alice.Single("joined").GetProperty("resumed").GetBoolean());
        Assert.Equal("hi", alice.Single("message").Str("text"));
        Assert.Empty(ghost.OfType("message"));
        Assert.Empty(bob.OfType("leave"));

        await _hub.DisconnectAsync(ghost); // the dead connection finally noticed: alice stays
        Assert.Equal(["alice", "bob"], _hub.GetMembers("general"));
    }

    [Fact]
    public async Task A_join_without_a_last_id_gets_the_recent_history()
    {
        _options.HistoryOnJoin = 3;
        TestClient alice = await JoinAsync("alice", "general");
        for (int i = 1; i <= 5; i++)
        {
            await SendAsync(alice, JsonSerializer.Serialize(new { type = "say", room = "general", text = $"m{i}" }));
        }

        TestClient bob = await JoinAsync("bob", "general");

        JsonElement joined = bob.Single("joined");
        Assert.Equal(["m3", "m4", "m5"], joined.GetProperty("history").EnumerateArray().Select(m => m.Str("text")));
        Assert.False(joined.GetProperty("more").GetBoolean());
    }

    [Fact]
    public async Task A_join_with_a_last_id_gets_everything_after_it_in_pages()
    {
        _options.HistoryPageSize = 4;
        TestClient alice = await JoinAsync("alice", "general");
        for (int i = 1; i <= 10; i++)
        {
            await SendAsync(alice, JsonSerializer.Serialize(new { type = "say", room = "general", text = $"m{i}" }));
        }

        long secondId = alice.OfType("message")[1].Long("id");
        TestClient bob = await ConnectAsync();
        await SendAsync(bob, JsonSerializer.Serialize(new { type = "join", room = "general", nick = "bob", after = secondId, historyId = _store.HistoryId }));

        JsonElement joined = bob.Single("joined");
        Assert.Equal(["m3", "m4", "m5", "m6"], joined.GetProperty("history").EnumerateArray().Select(m => m.Str("text")));
        Assert.True(joined.GetProperty("more").GetBoolean());

        long last = joined.GetProperty("history").EnumerateArray().Last().Long("id");
        var seen = new List<string>();
        bool more = true;
        while (more)
        {
            bob.Clear();
            await SendAsync(bob, JsonSerializer.Serialize(new { type = "history", room = "general", after = last }));
            JsonElement page = bob.Single("history");
            seen.AddRange(page.GetProperty("messages").EnumerateArray().Select(m => m.Str("text")));
            more = page.GetProperty("more").GetBoolean();
            last = page.GetProperty("messages").EnumerateArray().LastOrDefault() is { ValueKind: JsonValueKind.Object } m ? m.Long("id") : last;
        }

        Assert.Equal(["m7", "m8", "m9", "m10"], seen);
    }

    [Fact]
    public async Task Ids_from_another_history_are_ignored()
    {
        TestClient alice = await JoinAsync("alice", "general");
        await SendAsync(alice, """{"type":"say","room":"general","text":"only one"}""");

        TestClient bob = await ConnectAsync();
        await SendAsync(bob, """{"type":"join","room":"general","nick":"bob","after":999,"historyId":"some-old-database"}""");

        Assert.Equal(["only one"], bob.Single("joined").GetProperty("history").EnumerateArray().Select(m => m.Str("text")));
    }

    [Fact]
    public async Task The_room_list_counts_members_and_is_pushed_after_changes()
    {
        TestClient lobby = await ConnectAsync();
        await JoinAsync("alice", "general");
        await JoinAsync("bob", "general");
        await JoinAsync("carol", "games");

        JsonElement rooms = await lobby.WaitForAsync("rooms");
        for (int i = 2; RoomCount(rooms, "games") != 1 || RoomCount(rooms, "general") != 2; i++)
        {
            rooms = await lobby.WaitForAsync("rooms", i);
        }

        Assert.Equal(["general", "games"], rooms.GetProperty("rooms").EnumerateArray().Select(r => r.Str("room")));

        lobby.Clear();
        await SendAsync(lobby, """{"type":"rooms"}""");
        Assert.Equal(2, RoomCount(lobby.Single("rooms"), "general"));

        static int RoomCount(JsonElement message, string room) =>
            message.GetProperty("rooms").EnumerateArray().Where(r => r.Str("room") == room).Select(r => r.GetProperty("members").GetInt32()).FirstOrDefault(-1);
    }

    [Fact]
    public async Task A_connection_cannot_join_a_room_twice_or_too_many_rooms()
    {
        _options.MaxRoomsPerConnection = 2;
        TestClient alice = await JoinAsync("alice", "one");
        await SendAsync(alice, """{"type":"join","room":"one","nick":"alice2"}""");
        await SendAsync(alice, """{"type":"join","room":"two","nick":"alice"}""");
        await SendAsync(alice, """{"type":"join","room":"three","nick":"alice"}""");

        Assert.Equal(["already_in_room", "too_many_rooms"], alice.OfType("error").Select(e => e.Str("code")));
        Assert.Equal(["one", "two"], alice.OfType("joined").Select(j => j.Str("room")));
    }

    [Fact]
    public async Task A_failing_store_gets_a_server_error_and_the_hub_carries_on()
    {
        await _hub.DisposeAsync();
        _store = new FailingStore();
        _hub = CreateHub();
        TestClient alice = await JoinAsync("alice", "general");

        await SendAsync(alice, """{"type":"say","room":"general","text":"lost","ref":"f"}""");
        await SendAsync(alice, """{"type":"private","room":"general","to":"alice","text":"note to self"}""");

        JsonElement error = alice.Single("error");
        Assert.Equal("server_error", error.Str("code"));
        Assert.Equal("f", error.Str("ref"));
        Assert.Equal("note to self", alice.Single("private").Str("text"));
    }

    private LegacyChatHub CreateHub() => new(_store, new LegacyLocalChatFanout(), _transport, _options, _time);

    private async Task<TestClient> ConnectAsync()
    {
        var client = new TestClient(Interlocked.Increment(ref _nextId));
        await _hub.ConnectAsync(client);
        return client;
    }

    private async Task<TestClient> JoinAsync(string nick, string room)
    {
        TestClient client = await ConnectAsync();
        await SendAsync(client, JsonSerializer.Serialize(new { type = "join", room, nick }));
        Assert.Single(client.OfType("joined"));
        return client;
    }

    private ValueTask SendAsync(TestClient client, string json) => _hub.ReceiveAsync(client, Json.Utf8(json));

    private sealed class FailingStore : IChatStore
    {
        public string HistoryId => "failing";

        public ValueTask<ChatMessage> AppendAsync(NewChatMessage message, CancellationToken cancellationToken = default) =>
            throw new IOException("disk full");

        public ValueTask<IReadOnlyList<ChatMessage>> GetRecentAsync(string room, int count, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<IReadOnlyList<ChatMessage>>([]);

        public ValueTask<IReadOnlyList<ChatMessage>> GetAfterAsync(string room, long afterId, int limit, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<IReadOnlyList<ChatMessage>>([]);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
