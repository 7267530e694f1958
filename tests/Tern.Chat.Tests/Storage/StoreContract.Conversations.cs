using Tern.Chat.Storage;

namespace Tern.Chat.Tests.Storage;

/// <summary>Rooms, direct conversations and members.</summary>
public abstract partial class StoreContract<TStore>
{
    [Fact]
    public async Task A_room_is_created_once_and_found_by_name()
    {
        Account alice = await AccountAsync();

        RoomCreation first = await Store.GetOrCreateRoomAsync("general", alice.Id, 10, Start);
        RoomCreation second = await Store.GetOrCreateRoomAsync("general", alice.Id, 10, Start.AddHours(1));

        Assert.True(first.Created);
        Assert.False(first.LimitReached);
        Assert.Equal(new Conversation(first.Room!.Id, ConversationKind.Room, "general", null, null, Start), first.Room);
        Assert.Equal(new RoomCreation(first.Room, Created: false, LimitReached: false), second);
        Assert.Equal(first.Room, await Store.FindRoomAsync("general"));
        Assert.Null(await Store.FindRoomAsync("General"));
        Assert.False(await Store.IsMemberAsync(first.Room.Id, alice.Id)); // creating is not joining
    }

    [Fact]
    public async Task The_room_limit_counts_rooms_only_and_still_finds_existing_ones()
    {
        Account alice = await AccountAsync();
        Account bob = await AccountAsync();
        await Store.GetOrCreateDirectAsync(alice.Id, bob.Id, Start);
        await RoomAsync("one", alice.Id);

        RoomCreation two = await Store.GetOrCreateRoomAsync("two", alice.Id, 2, Start);
        RoomCreation three = await Store.GetOrCreateRoomAsync("three", alice.Id, 2, Start);
        RoomCreation oneAgain = await Store.GetOrCreateRoomAsync("one", alice.Id, 2, Start);

        Assert.True(two.Created);
        Assert.Equal(new RoomCreation(null, Created: false, LimitReached: true), three);
        Assert.Null(await Store.FindRoomAsync("three"));
        Assert.False(oneAgain.LimitReached);
        Assert.Equal("one", oneAgain.Room?.Name);
    }

    [Fact]
    public async Task Racing_room_creations_never_pass_the_limit()
    {
        Account alice = await AccountAsync();

        RoomCreation[] results = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(async () =>
            await Store.GetOrCreateRoomAsync($"room{i % 6}", alice.Id, 4, Start))));

        Assert.Equal(4, results.Count(r => r.Created));
        Assert.Equal(4, results.Where(r => r.Room is not null).Select(r => r.Room!.Id).Distinct().Count());
        Assert.Equal(4, (await Store.GetBusiestRoomsAsync(100)).Count);
        Assert.All(results, r => Assert.Equal(r.Room is null, r.LimitReached));
    }

    [Fact]
    public async Task Busiest_rooms_come_by_member_count_then_name()
    {
        Account[] people = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => AccountAsync()));
        Conversation quiet = await RoomAsync("quiet", people[0].Id);
        Conversation busy = await RoomAsync("busy", people[0].Id);
        Conversation alpha = await RoomAsync("alpha", people[0].Id);
        Conversation beta = await RoomAsync("beta", people[0].Id);
        await Store.GetOrCreateDirectAsync(people[0].Id, people[1].Id, Start); // 2 members, but not a room
        foreach (Account person in people)
        {
            await Store.AddMemberAsync(busy.Id, person.Id, Start);
        }

        await Store.AddMemberAsync(beta.Id, people[0].Id, Start);
        await Store.AddMemberAsync(alpha.Id, people[1].Id, Start);

        Assert.Equal(
            [new RoomListing(busy.Id, "busy", 3), new RoomListing(alpha.Id, "alpha", 1), new RoomListing(beta.Id, "beta", 1), new RoomListing(quiet.Id, "quiet", 0)],
            await Store.GetBusiestRoomsAsync(10));
        Assert.Equal([new RoomListing(busy.Id, "busy", 3), new RoomListing(alpha.Id, "alpha", 1)], await Store.GetBusiestRoomsAsync(2));
        Assert.Empty(await Store.GetBusiestRoomsAsync(0));
    }

    [Fact]
    public async Task Room_listings_cover_the_given_rooms_only()
    {
        Account alice = await AccountAsync();
        Account bob = await AccountAsync();
        Conversation general = await RoomAsync("general", alice.Id);
        Conversation random = await RoomAsync("random", alice.Id);
        await RoomAsync("other", alice.Id);
        Conversation direct = await Store.GetOrCreateDirectAsync(alice.Id, bob.Id, Start);
        await Store.AddMemberAsync(random.Id, bob.Id, Start);

        Assert.Equal([new RoomListing(general.Id, "general", 0), new RoomListing(random.Id, "random", 1)],
            await Store.GetRoomListingsAsync([random.Id, general.Id, direct.Id, 987654]));
        Assert.Empty(await Store.GetRoomListingsAsync([]));
    }

    [Fact]
    public async Task A_direct_conversation_is_one_per_pair_in_either_order_with_both_as_members()
    {
        Account alice = await AccountAsync("alice");
        Account bob = await AccountAsync("bob");
        Account carol = await AccountAsync("carol");

        Conversation first = await Store.GetOrCreateDirectAsync(bob.Id, alice.Id, Start);
        Conversation again = await Store.GetOrCreateDirectAsync(alice.Id, bob.Id, Start.AddDays(1));
        Conversation other = await Store.GetOrCreateDirectAsync(alice.Id, carol.Id, Start);

        Assert.Equal(new Conversation(first.Id, ConversationKind.Direct, null, alice.Id, bob.Id, Start), first);
        Assert.Equal(first, again);
        Assert.NotEqual(first.Id, other.Id);
        Assert.Equal([alice.Id, bob.Id], (await Store.GetMembersAsync(first.Id)).Select(m => m.AccountId));
        Assert.False(await Store.IsMemberAsync(first.Id, carol.Id));
        await Assert.ThrowsAsync<ArgumentException>(async () => await Store.GetOrCreateDirectAsync(alice.Id, alice.Id, Start));
    }

    [Fact]
    public async Task Racing_direct_conversations_for_one_pair_make_one()
    {
        Account alice = await AccountAsync();
        Account bob = await AccountAsync();

        Conversation[] results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
            i % 2 == 0 ? await Store.GetOrCreateDirectAsync(alice.Id, bob.Id, Start) : await Store.GetOrCreateDirectAsync(bob.Id, alice.Id, Start))));

        Assert.Single(results.Distinct());
    }

    [Fact]
    public async Task Members_join_once_leave_rooms_and_never_leave_direct_conversations()
    {
        Account alice = await AccountAsync("alice");
        Account bob = await AccountAsync("Bob");
        Conversation room = await RoomAsync("general", alice.Id);
        Conversation direct = await Store.GetOrCreateDirectAsync(alice.Id, bob.Id, Start);

        Assert.True(await Store.AddMemberAsync(room.Id, bob.Id, Start));
        Assert.True(await Store.AddMemberAsync(room.Id, alice.Id, Start));
        Assert.False(await Store.AddMemberAsync(room.Id, alice.Id, Start));
        Assert.Equal([new MemberInfo(alice.Id, "alice", alice.DisplayName), new MemberInfo(bob.Id, "Bob", bob.DisplayName)], await Store.GetMembersAsync(room.Id));
        Assert.Equal(1, await Store.CountRoomMembershipsAsync(alice.Id));

        Assert.True(await Store.RemoveMemberAsync(room.Id, alice.Id));
        Assert.False(await Store.RemoveMemberAsync(room.Id, alice.Id));
        Assert.False(await Store.IsMemberAsync(room.Id, alice.Id));
        Assert.True(await Store.IsMemberAsync(room.Id, bob.Id));
        Assert.Equal(0, await Store.CountRoomMembershipsAsync(alice.Id));

        Assert.False(await Store.RemoveMemberAsync(direct.Id, alice.Id));
        Assert.True(await Store.IsMemberAsync(direct.Id, alice.Id));
    }

    [Fact]
    public async Task Conversations_list_rooms_by_name_then_direct_ones_by_the_other_persons_name_with_unread_state()
    {
        Account me = await AccountAsync("me");
        Account zed = await AccountAsync("zed");
        Account amy = await AccountAsync("Amy");
        Conversation zoo = await RoomAsync("zoo", me.Id);
        Conversation art = await RoomAsync("art", me.Id);
        await RoomAsync("not-mine", me.Id);
        await Store.AddMemberAsync(zoo.Id, me.Id, Start);
        await Store.AddMemberAsync(zoo.Id, zed.Id, Start);
        await Store.AddMemberAsync(art.Id, me.Id, Start);
        Conversation withZed = await Store.GetOrCreateDirectAsync(zed.Id, me.Id, Start);
        Conversation withAmy = await Store.GetOrCreateDirectAsync(me.Id, amy.Id, Start);
        StoredMessage hello = await SayAsync(zoo, zed, "hello @me", null, me);
        StoredMessage mine = await SayAsync(zoo, me, "hi");
        StoredMessage direct = await SayAsync(withZed, zed, "psst");

        IReadOnlyList<ConversationState> states = await Store.GetConversationsAsync(me.Id);

        Assert.Equal([art.Id, zoo.Id, withAmy.Id, withZed.Id], states.Select(s => s.Conversation.Id));
        Assert.Equal(new ConversationState(art, null, 1, 0, new ReadState(0, 0, 0)), states[0]);
        Assert.Equal(new ConversationState(zoo, null, 2, mine.Id, new ReadState(0, 1, 1)), states[1]);
        Assert.Equal(new ConversationState(withAmy, new MemberInfo(amy.Id, "Amy", amy.DisplayName), 2, 0, new ReadState(0, 0, 0)), states[2]);
        Assert.Equal(new ConversationState(withZed, new MemberInfo(zed.Id, "zed", zed.DisplayName), 2, direct.Id, new ReadState(0, 1, 0)), states[3]);
        Assert.True(hello.Id < mine.Id);
        Assert.Empty(await Store.GetConversationsAsync((await AccountAsync()).Id));
    }
}
