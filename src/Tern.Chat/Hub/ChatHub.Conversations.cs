using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Tern.Chat.Accounts;
using Tern.Chat.Protocol;
using Tern.Chat.Storage;

namespace Tern.Chat.Hub;

// Rooms and direct conversations: hello, join, leave, dm, members, and the room directory.
public sealed partial class ChatHub
{
    /// <summary>Conversations seen so far, for their kind and name (they never change).</summary>
    private readonly ConcurrentDictionary<long, Conversation> _conversations = new();

    private string? _lastDirectoryJson;
    private int _directoryPending;

    private async ValueTask<HelloMessage> BuildHelloAsync(OnlineAccount account, CancellationToken cancellationToken)
    {
        account.BeginTracking();
        IReadOnlyList<ConversationState> states = await _store.GetConversationsAsync(account.Id, cancellationToken).ConfigureAwait(false);
        account.AddConversations(states.Select(s => s.Conversation.Id));
        foreach (ConversationState state in states)
        {
            _conversations.TryAdd(state.Conversation.Id, state.Conversation);
        }

        IReadOnlyList<RoomListing> busiest = await _store.GetBusiestRoomsAsync(_options.RoomDirectorySize, cancellationToken).ConfigureAwait(false);
        IEnumerable<RoomListing> own = states
            .Where(s => s.Conversation.Kind == ConversationKind.Room)
            .Select(s => new RoomListing(s.Conversation.Id, s.Conversation.Name!, s.MemberCount));

        var presence = new List<PresenceView>();
        foreach (long contact in await ContactsAsync(account.Id, states.Select(s => s.Conversation.Id), cancellationToken).ConfigureAwait(false))
        {
            string status = StatusOf(contact);
            if (status != PresenceStatus.Offline && (_presence.Find(contact)?.Username ?? _online.Find(contact)?.Username) is { } username)
            {
                presence.Add(new PresenceView(username, status));
            }
        }

        return new HelloMessage(
            "Tern.Chat",
            _store.HistoryId,
            new AccountView(account.Username, account.DisplayName),
            _limits,
            states.Select(ToView).ToArray(),
            Directory(busiest, own),
            presence);
    }

    private async ValueTask<ErrorMessage?> JoinAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Room is null)
        {
            return ChatErrors.MissingField("room", "join", request.Ref);
        }

        string? name = ChatNames.NormalizeRoom(request.Room, _options.MaxRoomLength);
        if (name is null)
        {
            return ChatErrors.BadRoom(_options.MaxRoomLength, request.Ref);
        }

        OnlineAccount account = connection.Account;
        await account.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Conversation? room = await _store.FindRoomAsync(name, cancellationToken).ConfigureAwait(false);
            if (room is not null && await _members.ContainsAsync(room.Id, account.Id, cancellationToken).ConfigureAwait(false))
            {
                // Already in: the answer again, for this connection only, and no announcement.
                await SendAsync(connection, await BuildJoinedAsync(room, account.Id, request.Ref, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
                return null;
            }

            if (await _store.CountRoomMembershipsAsync(account.Id, cancellationToken).ConfigureAwait(false) >= _options.MaxRoomsPerAccount)
            {
                return ChatErrors.TooManyRooms(_options.MaxRoomsPerAccount, request.Ref);
            }

            if (room is null)
            {
                if (_rateLimits.CheckRoomCreation(account.Id, connection.Address, request.Ref) is { } limited)
                {
                    return limited;
                }

                RoomCreation creation = await _store.GetOrCreateRoomAsync(name, account.Id, _options.MaxRooms, Now(), cancellationToken).ConfigureAwait(false);
                if (creation.LimitReached || creation.Room is null)
                {
                    return ChatErrors.RoomLimit(_options.MaxRooms, request.Ref);
                }

                room = creation.Room;
                if (creation.Created)
                {
                    _rateLimits.RecordRoomCreation(account.Id, connection.Address);
                    _logger.LogInformation("{Username} created #{Room}", account.Username, name);
                }
            }

            _conversations.TryAdd(room.Id, room);
            await using ConversationSection section = OpenConversation(room.Id);
            await section.EnterAsync(cancellationToken).ConfigureAwait(false);
            bool added = await _store.AddMemberAsync(room.Id, account.Id, Now(), cancellationToken).ConfigureAwait(false);
            if (added)
            {
                long[] members = await _members.GetAsync(room.Id, cancellationToken).ConfigureAwait(false);
                int count = members.Contains(account.Id) ? members.Length : members.Length + 1;
                var joined = new MemberJoinedMessage(room.Id, new MemberView(account.Username, account.DisplayName, StatusOf(account.Id)), count, Now());
                section.Publish(ChatEventKind.MemberJoined, room.Id, account.Id, ChatJson.Serialize(joined));
            }

            JoinedMessage answer = await BuildJoinedAsync(room, account.Id, request.Ref, cancellationToken).ConfigureAwait(false);
            section.Publish(ChatEventKind.ToAccount, room.Id, account.Id, ChatJson.Serialize(answer));
            await section.CommitAsync(cancellationToken).ConfigureAwait(false);
            if (added)
            {
                _logger.LogInformation("{Username} joined #{Room}", account.Username, name);
            }

            return null;
        }
        finally
        {
            account.Gate.Release();
        }
    }

    private async ValueTask<ErrorMessage?> LeaveAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Conversation is not { } conversationId)
        {
            return ChatErrors.MissingField("conversation", "leave", request.Ref);
        }

        OnlineAccount account = connection.Account;
        await account.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!await _members.ContainsAsync(conversationId, account.Id, cancellationToken).ConfigureAwait(false))
            {
                return ChatErrors.NotMember(conversationId, request.Ref);
            }

            Conversation? conversation = await FindConversationAsync(conversationId, account.Id, cancellationToken).ConfigureAwait(false);
            if (conversation is null)
            {
                return ChatErrors.NotMember(conversationId, request.Ref);
            }

            if (conversation.Kind != ConversationKind.Room)
            {
                return ChatErrors.NotARoom(conversationId, request.Ref);
            }

            await using ConversationSection section = OpenConversation(conversationId);
            await section.EnterAsync(cancellationToken).ConfigureAwait(false);
            if (!await _store.RemoveMemberAsync(conversationId, account.Id, cancellationToken).ConfigureAwait(false))
            {
                return ChatErrors.NotMember(conversationId, request.Ref);
            }

            long[] members = await _members.GetAsync(conversationId, cancellationToken).ConfigureAwait(false);
            int count = members.Contains(account.Id) ? members.Length - 1 : members.Length;
            var left = new MemberLeftMessage(conversationId, account.Username, count, Now());
            section.Publish(ChatEventKind.MemberLeft, conversationId, account.Id, ChatJson.Serialize(left));
            section.Publish(ChatEventKind.ToAccount, conversationId, account.Id, ChatJson.Serialize(new LeftMessage(conversationId, request.Ref)));
            await section.CommitAsync(cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("{Username} left #{Room}", account.Username, conversation.Name);
            return null;
        }
        finally
        {
            account.Gate.Release();
        }
    }

    private async ValueTask<ErrorMessage?> OpenDirectAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Username is null)
        {
            return ChatErrors.MissingField("username", "dm", request.Ref);
        }

        OnlineAccount account = connection.Account;
        Account? other = request.Username.Length <= UsernameRules.MaxLength * 2
            ? await _accounts.FindAccountAsync(UsernameRules.KeyOf(request.Username), cancellationToken).ConfigureAwait(false)
            : null;
        if (other is null)
        {
            return ChatErrors.NoSuchUser(request.Username, request.Ref);
        }

        if (other.Id == account.Id)
        {
            return ChatErrors.DirectWithYourself(request.Ref);
        }

        DateTimeOffset now = Now();
        Conversation direct = await _store.GetOrCreateDirectAsync(account.Id, other.Id, now, cancellationToken).ConfigureAwait(false);
        _conversations.TryAdd(direct.Id, direct);
        await using ConversationSection section = OpenConversation(direct.Id);
        await section.EnterAsync(cancellationToken).ConfigureAwait(false);

        // Every process learns the two members (a cache that looked at this id before it existed would say "nobody").
        section.Publish(ChatEventKind.MemberJoined, direct.Id, account.Id, null);
        section.Publish(ChatEventKind.MemberJoined, direct.Id, other.Id, null);

        var mine = new ConversationMessage(
            await BuildViewAsync(direct, account.Id, new AccountView(other.Username, other.DisplayName), cancellationToken).ConfigureAwait(false), request.Ref);
        section.Publish(ChatEventKind.ToAccount, direct.Id, account.Id, ChatJson.Serialize(mine));

        // The other person hears of it once, when it is created by this request (the store stamps it with our time).
        if (direct.Created == now)
        {
            var theirs = new ConversationMessage(
                await BuildViewAsync(direct, other.Id, new AccountView(account.Username, account.DisplayName), cancellationToken).ConfigureAwait(false), null);
            section.Publish(ChatEventKind.ToAccount, direct.Id, other.Id, ChatJson.Serialize(theirs));
        }

        await section.CommitAsync(cancellationToken).ConfigureAwait(false);
        return null;
    }

    private async ValueTask<ErrorMessage?> SendMembersAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Conversation is not { } conversationId)
        {
            return ChatErrors.MissingField("conversation", "members", request.Ref);
        }

        if (!await _members.ContainsAsync(conversationId, connection.Account.Id, cancellationToken).ConfigureAwait(false))
        {
            return ChatErrors.NotMember(conversationId, request.Ref);
        }

        if (_rateLimits.CheckPull(connection.Client.Id, connection.Account.Id, request.Ref, conversationId) is { } limited)
        {
            return limited;
        }

        IReadOnlyList<MemberInfo> members = await _store.GetMembersAsync(conversationId, cancellationToken).ConfigureAwait(false);
        string json = ChatJson.Serialize(new MembersMessage(conversationId, members.Select(ToView).ToArray(), request.Ref));
        return await SendPulledAsync(connection, json, request.Ref, conversationId).ConfigureAwait(false);
    }

    private async ValueTask<ErrorMessage?> SendRoomsAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        IReadOnlyList<RoomListing> busiest = await _store.GetBusiestRoomsAsync(_options.RoomDirectorySize, cancellationToken).ConfigureAwait(false);
        long[] ownIds = await OwnRoomIdsAsync(connection.Account, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<RoomListing> own = ownIds.Length == 0 ? [] : await _store.GetRoomListingsAsync(ownIds, cancellationToken).ConfigureAwait(false);
        await SendAsync(connection, new RoomsMessage(Directory(busiest, own), request.Ref)).ConfigureAwait(false);
        return null;
    }

    /// <summary>The busiest rooms, then the asker's own that are not among them.</summary>
    private static RoomView[] Directory(IReadOnlyList<RoomListing> busiest, IEnumerable<RoomListing> own)
    {
        var listed = new HashSet<long>(busiest.Select(r => r.ConversationId));
        return busiest.Concat(own.Where(r => listed.Add(r.ConversationId)))
            .Select(r => new RoomView(r.ConversationId, r.Name, r.Members))
            .ToArray();
    }

    private async ValueTask<long[]> OwnRoomIdsAsync(OnlineAccount account, CancellationToken cancellationToken)
    {
        long[]? ids = account.ConversationIds;
        if (ids is null)
        {
            IReadOnlyList<ConversationState> states = await _store.GetConversationsAsync(account.Id, cancellationToken).ConfigureAwait(false);
            return states.Where(s => s.Conversation.Kind == ConversationKind.Room).Select(s => s.Conversation.Id).ToArray();
        }

        var rooms = new List<long>();
        foreach (long id in ids)
        {
            if ((await FindConversationAsync(id, account.Id, cancellationToken).ConfigureAwait(false))?.Kind == ConversationKind.Room)
            {
                rooms.Add(id);
            }
        }

        return [.. rooms];
    }

    /// <summary>
    /// Members' counts changed: push the directory (the busiest rooms only, the same for everyone, so it is encoded
    /// once) after <see cref="ChatHubOptions.RoomListDelay"/>, gathering every change meanwhile into one push. A
    /// person's own rooms' counts reach them with <c>member_joined</c> and <c>member_left</c>.
    /// </summary>
    private void ScheduleDirectory()
    {
        if (Interlocked.Exchange(ref _directoryPending, 1) == 0 && !_disposed)
        {
            _directoryTimer.Change(_options.RoomListDelay, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnDirectoryTimer() => _ = PushDirectoryAsync();

    private async Task PushDirectoryAsync()
    {
        Volatile.Write(ref _directoryPending, 0);
        try
        {
            if (_disposed)
            {
                return;
            }

            IReadOnlyList<RoomListing> busiest = await _store.GetBusiestRoomsAsync(_options.RoomDirectorySize).ConfigureAwait(false);
            string json = ChatJson.Serialize(new RoomsMessage(Directory(busiest, []), null));
            if (json == Interlocked.Exchange(ref _lastDirectoryJson, json))
            {
                return; // Counts moved and came back: nothing to tell.
            }

            List<IChatClient> everyone = _online.AllRecipients(json);
            if (everyone.Count > 0)
            {
                await _transport.SendAsync(json, everyone).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "Pushing the room directory failed");
        }
    }

    private async ValueTask<JoinedMessage> BuildJoinedAsync(Conversation room, long accountId, string? clientRef, CancellationToken cancellationToken)
    {
        IReadOnlyList<MemberInfo> members = await _store.GetMembersAsync(room.Id, cancellationToken).ConfigureAwait(false);
        ConversationView view = await BuildViewAsync(room, accountId, null, cancellationToken, members.Count).ConfigureAwait(false);
        return new JoinedMessage(view, members.Select(ToView).ToArray(), clientRef);
    }

    /// <summary>One account's view of a conversation, read now.</summary>
    private async ValueTask<ConversationView> BuildViewAsync(Conversation conversation, long accountId, AccountView? with, CancellationToken cancellationToken, int? memberCount = null)
    {
        int members = memberCount ?? (await _members.GetAsync(conversation.Id, cancellationToken).ConfigureAwait(false)).Length;
        IReadOnlyList<StoredMessage> newest = await _store.GetBeforeAsync(conversation.Id, null, 1, cancellationToken).ConfigureAwait(false);
        ReadState read = await _store.GetReadStateAsync(conversation.Id, accountId, cancellationToken).ConfigureAwait(false);
        return new ConversationView(
            conversation.Id, KindName(conversation.Kind), conversation.Name, with, members, newest.Count > 0 ? newest[^1].Id : 0, read.LastReadId, read.Unread, read.Mentions);
    }

    /// <summary>A conversation the account is in, by id: from what this hub has seen, else from the account's list.</summary>
    private async ValueTask<Conversation?> FindConversationAsync(long conversationId, long accountId, CancellationToken cancellationToken)
    {
        if (_conversations.TryGetValue(conversationId, out Conversation? known))
        {
            return known;
        }

        IReadOnlyList<ConversationState> states = await _store.GetConversationsAsync(accountId, cancellationToken).ConfigureAwait(false);
        foreach (ConversationState state in states)
        {
            _conversations.TryAdd(state.Conversation.Id, state.Conversation);
        }

        return _conversations.TryGetValue(conversationId, out known) ? known : null;
    }

    private MemberView ToView(MemberInfo member) => new(member.Username, member.DisplayName, StatusOf(member.AccountId));

    /// <summary>
    /// An account's status over all nodes, as the presence board has it, raised to what its connections here say: an
    /// announcement made here reaches this node's own board only when the fan-out brings it back, and a person who
    /// has just connected and joins at once must not be shown offline meanwhile.
    /// </summary>
    private string StatusOf(long accountId)
    {
        string announced = _presence.StatusOf(accountId);
        string here = _online.Find(accountId)?.Status ?? PresenceStatus.Offline;
        return announced == PresenceStatus.Online || here == PresenceStatus.Online ? PresenceStatus.Online
            : announced == PresenceStatus.Away || here == PresenceStatus.Away ? PresenceStatus.Away
            : PresenceStatus.Offline;
    }

    private static ConversationView ToView(ConversationState state) => new(
        state.Conversation.Id,
        KindName(state.Conversation.Kind),
        state.Conversation.Name,
        state.Other is { } other ? new AccountView(other.Username, other.DisplayName) : null,
        state.MemberCount,
        state.LastMessageId,
        state.Read.LastReadId,
        state.Read.Unread,
        state.Read.Mentions);

    private static string KindName(ConversationKind kind) => kind == ConversationKind.Room ? "room" : "direct";
}
