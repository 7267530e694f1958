using Tern.Chat.Storage;

namespace Tern.Chat.Tests.Storage;

/// <summary>Full-text search.</summary>
public abstract partial class StoreContract<TStore>
{
    [Fact]
    public async Task Search_finds_every_word_the_last_as_a_prefix_newest_first()
    {
        (Account alice, Conversation general) = await MemberOfNewRoomAsync("general");
        StoredMessage older = await SayAsync(general, alice, "The quick brown fox");
        await SayAsync(general, alice, "a quick red car");
        StoredMessage newer = await SayAsync(general, alice, "Brownies for the QUICK ones");
        await SayAsync(general, alice, "nothing here");

        Assert.Equal([newer.Id, older.Id], await SearchIdsAsync(alice, "quick brown"));
        Assert.Equal([newer.Id, older.Id], await SearchIdsAsync(alice, "  QUICK   bro "));
        Assert.Equal([older.Id], await SearchIdsAsync(alice, "fox quick"));
        Assert.Empty(await SearchIdsAsync(alice, "qui brown")); // only the last word is a prefix
        Assert.Empty(await SearchIdsAsync(alice, "quick brown elephant"));
        Assert.Equal([newer.Id], (await Store.SearchAsync(alice.Id, "quick", null, null, 1)).Select(m => m.Id));
    }

    [Fact]
    public async Task Search_ignores_accents_and_finds_non_latin_words()
    {
        (Account alice, Conversation general) = await MemberOfNewRoomAsync("general");
        StoredMessage cafe = await SayAsync(general, alice, "Un café crème");
        StoredMessage russian = await SayAsync(general, alice, "Привет мир");

        Assert.Equal([cafe.Id], await SearchIdsAsync(alice, "cafe creme"));
        Assert.Equal([cafe.Id], await SearchIdsAsync(alice, "CAFÉ"));
        Assert.Equal([russian.Id], await SearchIdsAsync(alice, "привет ми"));
    }

    [Theory]
    [InlineData("\"")]
    [InlineData("\"quick")]
    [InlineData("quick\"")]
    [InlineData("quick*")]
    [InlineData("*")]
    [InlineData("quick OR nothing")]
    [InlineData("NEAR(quick fox)")]
    [InlineData("NEAR(")]
    [InlineData("-quick")]
    [InlineData("text:quick")]
    [InlineData("quick AND")]
    [InlineData("NOT quick")]
    [InlineData("(quick")]
    [InlineData("quick)")]
    [InlineData("^quick")]
    [InlineData("{text}: quick")]
    [InlineData("+ - * : ( ) \" ^ ,")]
    [InlineData("'; DROP TABLE messages; --")]
    [InlineData("quick\0fox")]
    public async Task Search_syntax_in_the_query_is_only_text(string query)
    {
        (Account alice, Conversation general) = await MemberOfNewRoomAsync("general");
        StoredMessage fox = await SayAsync(general, alice, "the quick fox");
        await SayAsync(general, alice, "nothing");

        IReadOnlyList<long> found = await SearchIdsAsync(alice, query);

        // Whatever it finds, it is what the words (with syntax taken as punctuation) find: at most the quick fox.
        Assert.True(found.Count == 0 || found.SequenceEqual([fox.Id]), string.Join(",", found));
        Assert.Equal(2, (await Store.GetAfterAsync(general.Id, 0, 10)).Count);
    }

    [Fact]
    public async Task Search_operators_are_words_to_look_for()
    {
        (Account alice, Conversation general) = await MemberOfNewRoomAsync("general");
        StoredMessage fox = await SayAsync(general, alice, "the quick fox");
        StoredMessage withOr = await SayAsync(general, alice, "quick OR slow, NOT sure");

        Assert.Equal([withOr.Id], await SearchIdsAsync(alice, "quick OR"));
        Assert.Equal([withOr.Id], await SearchIdsAsync(alice, "NOT quick"));
        Assert.Empty(await SearchIdsAsync(alice, "fox OR nothing"));
        Assert.Equal([fox.Id], await SearchIdsAsync(alice, "-fox"));
        Assert.Empty(await SearchIdsAsync(alice, "text:nothing"));
        Assert.Empty(await SearchIdsAsync(alice, "\" ' * -"));
    }

    [Fact]
    public async Task Search_covers_only_the_accounts_conversations()
    {
        Account alice = await AccountAsync();
        Account bob = await AccountAsync();
        Account eve = await AccountAsync();
        Conversation direct = await Store.GetOrCreateDirectAsync(alice.Id, bob.Id, Start);
        Conversation room = await RoomAsync("room", alice.Id);
        Conversation evesRoom = await RoomAsync("eves", eve.Id);
        await Store.AddMemberAsync(room.Id, alice.Id, Start);
        await Store.AddMemberAsync(evesRoom.Id, eve.Id, Start);
        StoredMessage secret = await SayAsync(direct, bob, "the secret password");
        StoredMessage inRoom = await SayAsync(room, alice, "no secret here");
        StoredMessage eves = await SayAsync(evesRoom, eve, "secret of eve");

        Assert.Empty(await SearchIdsAsync(eve, "password"));
        Assert.Equal([eves.Id], await SearchIdsAsync(eve, "secret"));
        Assert.Equal([inRoom.Id, secret.Id], await SearchIdsAsync(alice, "secret"));
        Assert.Equal([secret.Id], await SearchIdsAsync(bob, "secret"));
        Assert.Empty((await Store.SearchAsync(eve.Id, "secret", direct.Id, null, 10)).Select(m => m.Id));

        await Store.RemoveMemberAsync(room.Id, alice.Id);
        Assert.Equal([secret.Id], await SearchIdsAsync(alice, "secret"));
    }

    [Fact]
    public async Task Search_filters_by_conversation_and_pages_with_before()
    {
        Account alice = await AccountAsync();
        Account bob = await AccountAsync();
        Conversation room = await RoomAsync("room", alice.Id);
        Conversation direct = await Store.GetOrCreateDirectAsync(alice.Id, bob.Id, Start);
        await Store.AddMemberAsync(room.Id, alice.Id, Start);
        var inRoom = new List<long>();
        var all = new List<long>();
        for (int i = 0; i < 30; i++)
        {
            StoredMessage message = await SayAsync(i % 3 == 0 ? direct : room, alice, $"match number {i}");
            all.Add(message.Id);
            if (i % 3 != 0)
            {
                inRoom.Add(message.Id);
            }
        }

        Assert.Equal(inRoom.AsEnumerable().Reverse(), (await Store.SearchAsync(alice.Id, "match", room.Id, null, 100)).Select(m => m.Id));
        var paged = new List<long>();
        long? before = null;
        while (await Store.SearchAsync(alice.Id, "match", null, before, 7) is { Count: > 0 } page)
        {
            paged.AddRange(page.Select(m => m.Id));
            before = page[^1].Id;
        }

        Assert.Equal(all.AsEnumerable().Reverse(), paged);
        Assert.Empty(await Store.SearchAsync(alice.Id, "match", null, all[0], 10));
        Assert.All(await Store.SearchAsync(alice.Id, "match", direct.Id, null, 100), m => Assert.Equal(direct.Id, m.ConversationId));
    }

    [Fact]
    public async Task Search_never_finds_deleted_messages_and_follows_edits()
    {
        (Account alice, Conversation room) = await MemberOfNewRoomAsync("room");
        StoredMessage deleted = await SayAsync(room, alice, "regrettable words");
        StoredMessage edited = await SayAsync(room, alice, "typo wrods");

        await Store.DeleteAsync(deleted.Id, alice.Id, Start);
        await Store.EditAsync(edited.Id, alice.Id, "fixed words", [], Start);

        Assert.Empty(await SearchIdsAsync(alice, "regrettable"));
        Assert.Empty(await SearchIdsAsync(alice, "wrods"));
        Assert.Equal([edited.Id], await SearchIdsAsync(alice, "words"));
        Assert.Equal("fixed words", Assert.Single(await Store.SearchAsync(alice.Id, "fixed", null, null, 10)).Text);
    }

    private async Task<IReadOnlyList<long>> SearchIdsAsync(Account account, string query) =>
        (await Store.SearchAsync(account.Id, query, null, null, 100)).Select(m => m.Id).ToArray();
}
