using Tern.Chat.Storage;

namespace Tern.Chat.Tests.Storage;

/// <summary>Messages, history pages and read positions.</summary>
public abstract partial class StoreContract<TStore>
{
    [Fact]
    public async Task Append_keeps_every_field_and_ids_grow_across_conversations()
    {
        Account alice = await AccountAsync("alice");
        Account bob = await AccountAsync("bob");
        Conversation general = await RoomAsync("general", alice.Id);
        Conversation direct = await Store.GetOrCreateDirectAsync(alice.Id, bob.Id, Start);
        const string text = "hello \"world\" <b>é</b> 😀\n2nd line";

        AppendResult first = await Store.AppendAsync(new NewMessage(general.Id, alice.Id, text, Start.AddTicks(1234), "c-1", [bob.Id, bob.Id]));
        StoredMessage second = await SayAsync(direct, bob, "x");
        StoredMessage third = await SayAsync(general, bob, "y");

        Assert.False(first.Duplicate);
        StoredMessage stored = first.Message;
        Assert.Equal((general.Id, alice.Id, "alice", alice.DisplayName, text, Start, (DateTimeOffset?)null, false, "c-1"),
            (stored.ConversationId, stored.AuthorId, stored.AuthorUsername, stored.AuthorDisplayName, stored.Text, stored.Time, stored.Edited, stored.Deleted, stored.ClientRef));
        Assert.Equal([bob.Id], stored.MentionedAccountIds);
        Assert.True(stored.Id < second.Id && second.Id < third.Id);
        AssertSameMessage(stored, await Store.GetMessageAsync(stored.Id));
        Assert.Null(await Store.GetMessageAsync(third.Id + 1));
    }

    [Fact]
    public async Task A_resent_message_is_stored_once_per_conversation_author_and_ref()
    {
        Account alice = await AccountAsync();
        Account bob = await AccountAsync();
        Conversation general = await RoomAsync("general", alice.Id);
        Conversation random = await RoomAsync("random", alice.Id);
        StoredMessage original = await SayAsync(general, alice, "once", "c-1", bob);

        AppendResult again = await Store.AppendAsync(new NewMessage(general.Id, alice.Id, "once (resent)", Start.AddMinutes(1), "c-1", []));
        StoredMessage otherAuthor = await SayAsync(general, bob, "same ref, other author", "c-1");
        StoredMessage otherRoom = await SayAsync(random, alice, "same ref, other room", "c-1");
        StoredMessage noRef1 = await SayAsync(general, alice, "no ref");
        StoredMessage noRef2 = await SayAsync(general, alice, "no ref");

        Assert.True(again.Duplicate);
        AssertSameMessage(original, again.Message);
        Assert.Equal(5, new[] { original.Id, otherAuthor.Id, otherRoom.Id, noRef1.Id, noRef2.Id }.Distinct().Count());
        Assert.Equal(["once", "same ref, other author", "no ref", "no ref"], (await Store.GetAfterAsync(general.Id, 0, 100)).Select(m => m.Text));
    }

    [Fact]
    public async Task Concurrent_appends_get_distinct_growing_ids()
    {
        Account alice = await AccountAsync();
        Conversation general = await RoomAsync("general", alice.Id);

        StoredMessage[][] results = await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(async () =>
        {
            var mine = new List<StoredMessage>();
            for (int i = 0; i < 40; i++)
            {
                mine.Add(await SayAsync(general, alice, $"{t}:{i}", $"{t}:{i}"));
            }

            return mine.ToArray();
        })));

        long[] ids = results.SelectMany(r => r).Select(m => m.Id).ToArray();
        Assert.Equal(160, ids.Distinct().Count());
        Assert.All(results, r => Assert.Equal(r.Select(m => m.Id).Order(), r.Select(m => m.Id)));
        Assert.Equal(ids.Order(), (await Store.GetAfterAsync(general.Id, 0, 1000)).Select(m => m.Id));
    }

    [Fact]
    public async Task History_pages_both_ways_through_many_messages_without_gaps_or_repeats()
    {
        Account alice = await AccountAsync();
        Conversation general = await RoomAsync("general", alice.Id);
        Conversation noise = await RoomAsync("noise", alice.Id);
        var expected = new List<long>();
        for (int i = 0; i < 520; i++)
        {
            expected.Add((await SayAsync(general, alice, $"m{i}")).Id);
            if (i % 7 == 0)
            {
                await SayAsync(noise, alice, "noise");
            }
        }

        var backwards = new List<long>();
        long? before = null;
        while (true)
        {
            IReadOnlyList<StoredMessage> page = await Store.GetBeforeAsync(general.Id, before, 50);
            if (page.Count == 0)
            {
                break;
            }

            Assert.Equal(page.Select(m => m.Id).Order(), page.Select(m => m.Id));
            Assert.True(page.Count == 50 || backwards.Count + page.Count == 520);
            backwards.InsertRange(0, page.Select(m => m.Id));
            before = page[0].Id;
        }

        var forwards = new List<long>();
        long after = 0;
        while (await Store.GetAfterAsync(general.Id, after, 50) is { Count: > 0 } page)
        {
            forwards.AddRange(page.Select(m => m.Id));
            after = page[^1].Id;
        }

        Assert.Equal(expected, backwards);
        Assert.Equal(expected, forwards);
        Assert.Equal(expected.TakeLast(3), (await Store.GetBeforeAsync(general.Id, null, 3)).Select(m => m.Id));
        Assert.Equal(expected.Skip(10).Take(3), (await Store.GetAfterAsync(general.Id, expected[9], 3)).Select(m => m.Id));
        Assert.Equal(expected.Skip(7).Take(3), (await Store.GetBeforeAsync(general.Id, expected[10], 3)).Select(m => m.Id));
        Assert.Empty(await Store.GetBeforeAsync(general.Id, expected[0], 10));
        Assert.Empty(await Store.GetAfterAsync(general.Id, expected[^1], 10));
        Assert.Empty(await Store.GetBeforeAsync(general.Id, null, 0));
    }

    [Fact]
    public async Task Only_the_author_edits_and_deletes_and_never_a_deleted_message()
    {
        Account alice = await AccountAsync();
        Account bob = await AccountAsync();
        Account carol = await AccountAsync();
        Conversation general = await RoomAsync("general", alice.Id);
        StoredMessage message = await SayAsync(general, alice, "first @bob", "c-9", bob);

        Assert.Null(await Store.EditAsync(message.Id, bob.Id, "hijacked", [], Start.AddMinutes(1)));
        Assert.Null(await Store.DeleteAsync(message.Id, bob.Id, Start.AddMinutes(1)));
        Assert.Null(await Store.EditAsync(message.Id + 100, alice.Id, "nothing there", [], Start.AddMinutes(1)));

        StoredMessage? edited = await Store.EditAsync(message.Id, alice.Id, "second @carol", [carol.Id], Start.AddMinutes(2));
        Assert.NotNull(edited);
        Assert.Equal(("second @carol", Start.AddMinutes(2), false), (edited.Text, edited.Edited, edited.Deleted));
        Assert.Equal([carol.Id], edited.MentionedAccountIds);
        AssertSameMessage(edited, await Store.GetMessageAsync(message.Id));

        StoredMessage? deleted = await Store.DeleteAsync(message.Id, alice.Id, Start.AddMinutes(3));
        Assert.NotNull(deleted);
        Assert.Equal((message.Id, alice.Id, "", true, Start, "c-9"), (deleted.Id, deleted.AuthorId, deleted.Text, deleted.Deleted, deleted.Time, deleted.ClientRef));
        Assert.Empty(deleted.MentionedAccountIds);
        AssertSameMessage(deleted, await Store.GetMessageAsync(message.Id));
        AssertSameMessage(deleted, Assert.Single(await Store.GetBeforeAsync(general.Id, null, 10)));

        Assert.Null(await Store.EditAsync(message.Id, alice.Id, "back from the dead", [], Start.AddMinutes(4)));
        Assert.Null(await Store.DeleteAsync(message.Id, alice.Id, Start.AddMinutes(4)));
        Assert.Equal("", (await Store.GetMessageAsync(message.Id))!.Text);
    }

    [Fact]
    public async Task A_new_member_starts_reading_at_the_last_message()
    {
        Account alice = await AccountAsync();
        Account bob = await AccountAsync();
        Conversation general = await RoomAsync("general", alice.Id);
        Conversation empty = await RoomAsync("empty", alice.Id);
        await SayAsync(general, alice, "before bob");
        StoredMessage last = await SayAsync(general, alice, "still before bob @bob", null, bob);
        await SayAsync(empty, alice, "elsewhere"); // a larger id in another conversation

        await Store.AddMemberAsync(general.Id, bob.Id, Start);
        await Store.AddMemberAsync(empty.Id, bob.Id, Start);
        await Store.RemoveMemberAsync(empty.Id, bob.Id);
        await Store.AddMemberAsync(empty.Id, bob.Id, Start);

        Assert.Equal(new ReadState(last.Id, 0, 0), await Store.GetReadStateAsync(general.Id, bob.Id));
        StoredMessage after = await SayAsync(general, alice, "after bob");
        Assert.Equal(new ReadState(last.Id, 1, 0), await Store.GetReadStateAsync(general.Id, bob.Id));
        Assert.True(after.Id > last.Id);
    }

    [Fact]
    public async Task Unread_counts_messages_by_others_not_deleted_and_mentions_of_the_account()
    {
        Account me = await AccountAsync();
        Account other = await AccountAsync();
        Account third = await AccountAsync();
        Conversation general = await RoomAsync("general", me.Id);
        await Store.AddMemberAsync(general.Id, me.Id, Start);

        await SayAsync(general, other, "plain");
        StoredMessage mentionsMe = await SayAsync(general, other, "@me", null, me);
        await SayAsync(general, other, "@third", null, third);
        await SayAsync(general, me, "my own, mentioning myself", null, me);
        StoredMessage deletedMention = await SayAsync(general, third, "@me, then deleted", null, me);
        StoredMessage deleted = await SayAsync(general, other, "deleted");
        await Store.DeleteAsync(deletedMention.Id, third.Id, Start);
        await Store.DeleteAsync(deleted.Id, other.Id, Start);

        Assert.Equal(new ReadState(0, 3, 1), await Store.GetReadStateAsync(general.Id, me.Id));
        await Store.EditAsync(mentionsMe.Id, other.Id, "no longer", [], Start);
        Assert.Equal(new ReadState(0, 3, 0), await Store.GetReadStateAsync(general.Id, me.Id));
    }

    [Fact]
    public async Task Marking_read_never_moves_back_and_stops_at_the_last_message()
    {
        Account me = await AccountAsync();
        Account other = await AccountAsync();
        Conversation general = await RoomAsync("general", me.Id);
        Conversation elsewhere = await RoomAsync("elsewhere", me.Id);
        await Store.AddMemberAsync(general.Id, me.Id, Start);
        StoredMessage one = await SayAsync(general, other, "1 @me", null, me);
        StoredMessage two = await SayAsync(general, other, "2");
        StoredMessage three = await SayAsync(general, other, "3");
        StoredMessage later = await SayAsync(elsewhere, other, "a larger id elsewhere");

        Assert.Equal(new ReadState(0, 3, 1), await Store.GetReadStateAsync(general.Id, me.Id));
        Assert.Equal(new ReadState(two.Id, 1, 0), await Store.MarkReadAsync(general.Id, me.Id, two.Id));
        Assert.Equal(new ReadState(two.Id, 1, 0), await Store.MarkReadAsync(general.Id, me.Id, one.Id));
        Assert.Equal(new ReadState(three.Id, 0, 0), await Store.MarkReadAsync(general.Id, me.Id, later.Id + 1000));

        StoredMessage four = await SayAsync(general, other, "4");
        Assert.Equal(new ReadState(three.Id, 1, 0), await Store.GetReadStateAsync(general.Id, me.Id));
        Assert.Equal(new ReadState(four.Id, 0, 0), await Store.MarkReadAsync(general.Id, me.Id, four.Id));
        Assert.Equal(new ReadState(0, 0, 0), await Store.MarkReadAsync(general.Id, other.Id, four.Id)); // not a member
    }

    /// <summary>Records holding lists compare the lists by reference; this compares them by content.</summary>
    protected static void AssertSameMessage(StoredMessage expected, StoredMessage? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected with { MentionedAccountIds = [] }, actual with { MentionedAccountIds = [] });
        Assert.Equal(expected.MentionedAccountIds, actual.MentionedAccountIds);
    }
}
