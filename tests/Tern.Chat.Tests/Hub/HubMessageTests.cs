using System.Text.Json;
using Tern.Chat.Storage;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Hub;

public sealed class HubMessageTests : IAsyncLifetime
{
    private HubHarness _h = null!;
    private Account _alice = null!;
    private Account _bob = null!;
    private TestClient _a = null!;
    private TestClient _b = null!;
    private long _general;

    public async Task InitializeAsync()
    {
        _h = await HubHarness.StartAsync();
        _alice = await _h.AccountAsync("alice");
        _bob = await _h.AccountAsync("bob");
    }

    public async Task DisposeAsync() => await _h.DisposeAsync();

    [Fact]
    public async Task A_message_goes_once_to_every_connection_of_every_member_with_its_id_and_ref()
    {
        await StartAsync();
        TestClient a2 = await _h.ConnectAsync(_alice);
        TestClient outsider = await _h.ConnectAsync(await _h.AccountAsync("carol"));
        int sendsBefore = _h.Transport.Sends;

        await _h.SendAsync(_a, new { type = "say", conversation = _general, text = "hi <b>bob</b> ✓", @ref = "c-1" });

        Assert.Equal(1, _h.Transport.Sends - sendsBefore); // Encoded and handed over once for all three connections.
        JsonElement message = _b.Single("message");
        Assert.True(message.Long("id") > 0);
        Assert.Equal(_general, message.Long("conversation"));
        Assert.Equal("alice", message.Str("author"));
        Assert.Equal("Alice", message.Str("authorName"));
        Assert.Equal("hi <b>bob</b> ✓", message.Str("text"));
        Assert.Equal("c-1", message.Str("ref"));
        Assert.Equal("2025-01-01T12:00:00.000Z", message.Str("time"));
        Assert.False(message.Has("edited") || message.Has("deleted") || message.Has("mentions"));
        Assert.Equal(message.Long("id"), _a.Single("message").Long("id"));
        Assert.Equal(message.Long("id"), a2.Single("message").Long("id"));
        Assert.Empty(outsider.OfType("message"));
    }

    [Theory]
    [InlineData("", "empty_text", "The message is empty.")]
    [InlineData(" \n\t ", "empty_text", "The message is empty.")]
    [InlineData("a\u0007b", "bad_text", "The message contains control characters; only tabs and line breaks are allowed.")]
    [InlineData("abc\u202Eevil", "bad_text", "direction-changing")]
    [InlineData("\u200B\u200D", "bad_text", "no visible characters")]
    [InlineData("e\u0301\u0301\u0301\u0301\u0301", "bad_text", "combining marks")]
    public async Task Texts_that_break_the_rules_are_refused_with_the_reason(string text, string code, string message)
    {
        await StartAsync();

        await _h.SendAsync(_a, new { type = "say", conversation = _general, text, @ref = "t" });

        JsonElement error = _a.Error();
        Assert.Equal(code, error.Str("code"));
        Assert.Contains(message, error.Str("message"));
        Assert.Equal("t", error.Str("ref"));
        Assert.Equal(_general, error.Long("conversation"));
        Assert.Empty(_b.OfType("message"));
    }

    [Fact]
    public async Task Length_and_line_limits_say_how_far_over_they_are()
    {
        await StartAsync();

        await _h.SendAsync(_a, new { type = "say", conversation = _general, text = new string('x', 4001) });
        Assert.Equal("text_too_long", _a.ErrorCode());
        Assert.Equal("The message is 4001 characters long; the limit is 4000.", _a.Error().Str("message"));

        await _h.SendAsync(_a, new { type = "say", conversation = _general, text = string.Join('\n', Enumerable.Repeat("l", 201)) });
        Assert.Equal("too_many_lines", _a.ErrorCode());
        Assert.Equal("The message has 201 lines; the limit is 200.", _a.Error().Str("message"));

        await _h.SayAsync(_a, _general, new string('x', 4000));
    }

    [Fact]
    public async Task A_resent_ref_is_stored_once_and_answered_with_the_stored_message()
    {
        await StartAsync();
        JsonElement first = await _h.SayAsync(_a, _general, "only once", "c-7");

        TestClient reconnected = await _h.ConnectAsync(_alice);
        JsonElement again = await _h.SayAsync(reconnected, _general, "only once", "c-7");

        Assert.Equal(first.Long("id"), again.Long("id"));
        Assert.Single(_b.OfType("message"));
        Assert.Single(await _h.Store.GetBeforeAsync(_general, null, 10));
    }

    [Fact]
    public async Task Mentions_name_members_by_username_whatever_the_case_and_are_recomputed_on_edit()
    {
        await StartAsync();
        Account carol = await _h.AccountAsync("Carol.M");
        TestClient c = await _h.ConnectAsync(carol);
        await _h.JoinAsync(c, "general");
        await _h.AccountAsync("dave"); // Not a member: not mentioned.

        JsonElement message = await _h.SayAsync(_a, _general, "@BOB, ask @carol.m. and @dave; mail x@bob.org @nobody");

        Assert.Equal(["bob", "Carol.M"], message.GetProperty("mentions").EnumerateArray().Select(m => m.GetString()));
        StoredMessage stored = (await _h.Store.GetMessageAsync(message.Long("id")))!;
        Assert.Equal([_bob.Id, carol.Id], stored.MentionedAccountIds.Order());

        await _h.SendAsync(_a, new { type = "edit", id = message.Long("id"), text = "never mind @alice" });
        JsonElement edited = _b.Last("edited").GetProperty("message");
        Assert.Equal(["alice"], edited.GetProperty("mentions").EnumerateArray().Select(m => m.GetString()));
    }

    [Fact]
    public async Task Two_authors_writing_at_once_are_seen_in_one_order_by_every_member()
    {
        _h.Options.RateLimitCount = _h.Options.AddressRateLimitCount = _h.Options.RequestLimitCount = 10_000;
        await StartAsync();
        TestClient carol = await _h.ConnectAsync(await _h.AccountAsync("carol"));
        await _h.JoinAsync(carol, "general");
        TestClient a2 = await _h.ConnectAsync(_alice);

        await Task.WhenAll(Write(_a, "a"), Write(_b, "b"));

        long[] order = Ids(carol);
        Assert.Equal(200, order.Length);
        Assert.Equal(order.Order(), order);
        Assert.Equal(order, Ids(_a));
        Assert.Equal(order, Ids(_b));
        Assert.Equal(order, Ids(a2));

        Task Write(TestClient client, string name) => Task.Run(async () =>
        {
            for (int i = 0; i < 100; i++)
            {
                await _h.SendAsync(client, new { type = "say", conversation = _general, text = $"{name}{i}", @ref = $"{name}{i}" });
            }
        });

        static long[] Ids(TestClient client) => client.OfType("message").Select(m => m.Long("id")).ToArray();
    }

    [Fact]
    public async Task Only_the_author_can_edit_or_delete_and_members_see_both()
    {
        await StartAsync();
        long id = (await _h.SayAsync(_a, _general, "frist")).Long("id");
        _h.Time.Advance(TimeSpan.FromSeconds(5));

        await _h.SendAsync(_b, new { type = "edit", id, text = "hacked", @ref = "e" });
        Assert.Equal("no_such_message", _b.ErrorCode());
        Assert.Equal($"You have no message {id} to edit.", _b.Error().Str("message"));
        await _h.SendAsync(_b, new { type = "delete", id });
        Assert.Equal("no_such_message", _b.ErrorCode());

        await _h.SendAsync(_a, new { type = "edit", id, text = "first", @ref = "e" });
        JsonElement edited = _b.Single("edited").GetProperty("message");
        Assert.Equal("first", edited.Str("text"));
        Assert.Equal("2025-01-01T12:00:05.000Z", edited.Str("edited"));
        Assert.Equal(id, _a.Single("edited").GetProperty("message").Long("id"));

        await _h.SendAsync(_a, new { type = "edit", id, text = "" });
        Assert.Equal("empty_text", _a.ErrorCode());

        await _h.SendAsync(_a, new { type = "delete", id, @ref = "d" });
        JsonElement deleted = _b.Single("deleted");
        Assert.Equal(id, deleted.Long("id"));
        Assert.Equal(_general, deleted.Long("conversation"));

        await _h.SendAsync(_a, new { type = "edit", id, text = "back" });
        Assert.Equal("no_such_message", _a.ErrorCode());
        await _h.SendAsync(_a, new { type = "delete", id = 999_999 });
        Assert.Equal("no_such_message", _a.ErrorCode());

        await _h.SendAsync(_b, new { type = "history", conversation = _general });
        JsonElement tombstone = Assert.Single(_b.Last("history").GetProperty("messages").EnumerateArray());
        Assert.True(tombstone.Bool("deleted"));
        Assert.False(tombstone.Has("text"));
    }

    [Fact]
    public async Task History_pages_backwards_and_forwards_with_more()
    {
        _h.Options.HistoryPageSize = 3;
        await StartAsync();
        var ids = new List<long>();
        for (int i = 1; i <= 7; i++)
        {
            ids.Add((await _h.SayAsync(_a, _general, $"m{i}")).Long("id"));
        }

        await _h.SendAsync(_b, new { type = "history", conversation = _general, @ref = "h" });
        JsonElement newest = _b.Last("history");
        Assert.Equal(["m5", "m6", "m7"], Texts(newest));
        Assert.True(newest.Bool("more"));
        Assert.Equal("before", newest.Str("direction"));
        Assert.Equal("h", newest.Str("ref"));

        await _h.SendAsync(_b, new { type = "history", conversation = _general, before = ids[4] });
        Assert.Equal(["m2", "m3", "m4"], Texts(_b.Last("history")));
        Assert.True(_b.Last("history").Bool("more"));
        await _h.SendAsync(_b, new { type = "history", conversation = _general, before = ids[1] });
        Assert.Equal(["m1"], Texts(_b.Last("history")));
        Assert.False(_b.Last("history").Bool("more"));

        await _h.SendAsync(_b, new { type = "history", conversation = _general, after = ids[0] });
        Assert.Equal(["m2", "m3", "m4"], Texts(_b.Last("history")));
        Assert.Equal("after", _b.Last("history").Str("direction"));
        Assert.True(_b.Last("history").Bool("more"));
        await _h.SendAsync(_b, new { type = "history", conversation = _general, after = ids[3] });
        Assert.Equal(["m5", "m6", "m7"], Texts(_b.Last("history")));
        Assert.False(_b.Last("history").Bool("more"));

        await _h.SendAsync(_b, new { type = "history", conversation = _general, after = 1, before = 2 });
        Assert.Equal("bad_field", _b.ErrorCode());
    }

    [Fact]
    public async Task A_history_page_is_cut_to_its_byte_limit_keeping_the_end_it_pages_from()
    {
        _h.Options.HistoryPageBytes = 10_000;
        _h.Options.RateLimitCount = 100;
        await StartAsync();
        for (int i = 0; i < 10; i++)
        {
            await _h.SayAsync(_a, _general, $"m{i} " + new string('x', 3000));
        }

        await _h.SendAsync(_b, new { type = "history", conversation = _general });

        JsonElement page = _b.Last("history");
        Assert.Equal(["m7", "m8", "m9"], Texts(page).Select(t => t[..2]));
        Assert.True(page.Bool("more"));
    }

    [Fact]
    public async Task Reading_moves_every_device_of_the_account_and_counts_unread_and_mentions()
    {
        await StartAsync();
        TestClient a2 = await _h.ConnectAsync(_alice);
        await _h.SayAsync(_b, _general, "one");
        await _h.SayAsync(_b, _general, "two @alice");
        long last = (await _h.SayAsync(_b, _general, "three")).Long("id");
        await _h.SayAsync(_a, _general, "mine does not count");

        TestClient a3 = await _h.ConnectAsync(_alice);
        JsonElement state = a3.Received[0].GetProperty("conversations")[0];
        Assert.Equal(3, state.Int("unread"));
        Assert.Equal(1, state.Int("mentions"));

        await _h.SendAsync(_a, new { type = "read", conversation = _general, id = last - 1 });
        foreach (TestClient device in new[] { _a, a2, a3 })
        {
            JsonElement read = device.Single("read");
            Assert.Equal(last - 1, read.Long("lastRead"));
            Assert.Equal(1, read.Int("unread"));
            Assert.Equal(0, read.Int("mentions"));
        }

        Assert.Empty(_b.OfType("read"));

        // An older position changes nothing: only the asker hears where it stands.
        await _h.SendAsync(a2, new { type = "read", conversation = _general, id = 1 });
        Assert.Equal(2, a2.OfType("read").Count);
        Assert.Single(_a.OfType("read"));
        Assert.Equal(last - 1, a2.Last("read").Long("lastRead"));

        await _h.SendAsync(_a, new { type = "read", conversation = _general });
        Assert.Equal("missing_field", _a.ErrorCode());
    }

    [Fact]
    public async Task Search_finds_words_in_your_conversations_newest_first()
    {
        _h.Options.SearchPageSize = 2;
        await StartAsync();
        await _h.SayAsync(_a, _general, "the green apple");
        await _h.SayAsync(_b, _general, "an apple pie");
        await _h.SayAsync(_a, _general, "apples everywhere");
        long direct = await _h.DirectAsync(_a, "bob");
        await _h.SayAsync(_a, direct, "a secret apple");

        await _h.SendAsync(_b, new { type = "search", query = "apple", @ref = "s" });
        JsonElement results = _b.Last("results");
        Assert.Equal("apple", results.Str("query"));
        Assert.Equal("s", results.Str("ref"));
        Assert.Equal(["a secret apple", "apples everywhere"], Texts(results));
        Assert.True(results.Bool("more"));
        Assert.Equal(direct, results.GetProperty("messages")[0].Long("conversation"));

        long before = results.GetProperty("messages")[1].Long("id");
        await _h.SendAsync(_b, new { type = "search", query = "apple", conversation = _general, before });
        Assert.Equal(["an apple pie", "the green apple"], Texts(_b.Last("results")));

        await _h.SendAsync(_b, new { type = "search", query = "a !" });
        Assert.Equal("bad_query", _b.ErrorCode());
        await _h.SendAsync(_b, new { type = "search", query = new string('w', 201) });
        Assert.Equal("bad_query", _b.ErrorCode());
    }

    private async Task StartAsync()
    {
        _a = await _h.ConnectAsync(_alice);
        _b = await _h.ConnectAsync(_bob);
        _general = await _h.JoinAsync(_a, "general");
        await _h.JoinAsync(_b, "general");
    }

    private static string[] Texts(JsonElement page) => page.GetProperty("messages").EnumerateArray().Select(m => m.Str("text")).ToArray();
}
