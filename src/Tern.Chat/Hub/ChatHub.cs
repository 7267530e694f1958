using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tern.Chat.Protocol;
using Tern.Chat.Storage;

namespace Tern.Chat.Hub;

/// <summary>
/// The chat's rules: rooms and their members, nicknames, messages and their order, private messages, limits.
/// Transport-neutral: it reads JSON requests from <see cref="IChatClient"/>s and answers through an
/// <see cref="IChatTransport"/>; history goes to an <see cref="IChatStore"/>, room events through an <see cref="IChatFanout"/>.
/// </summary>
/// <remarks>
/// <para><b>Order.</b> Each room has a gate. Storing a message and publishing it happen under the room's gate, so ids
/// and deliveries follow one order; a join reads the history and answers under the same gate, so a joiner sees every
/// message exactly once: in its history, or live after it.</para>
/// <para><b>Threads.</b> Calls for one client must not overlap (one reader per connection); calls for different
/// clients may run at once.</para>
/// <para><b>Reconnects.</b> A joined member gets a token. When its connection drops, the member stays in the room for
/// <see cref="ChatHubOptions.ReconnectGrace"/>; a join with the same nickname and token takes its place silently, even
/// from a new connection while the old one is not yet known to be dead.</para>
/// </remarks>
public sealed class ChatHub : IAsyncDisposable
{
    private readonly IChatStore _store;
    private readonly IChatFanout _fanout;
    private readonly IChatTransport _transport;
    private readonly ChatHubOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<long, ChatSession> _sessions = new();
    private readonly ConcurrentDictionary<string, Room> _rooms = new(StringComparer.Ordinal);
    private readonly IDisposable _subscription;
    private readonly ITimer _roomListTimer;
    private readonly ChatLimits _limits;
    private int _roomListPending;
    private volatile bool _disposed;

    /// <summary>Creates a hub.</summary>
    public ChatHub(IChatStore store, IChatFanout fanout, IChatTransport transport, ChatHubOptions? options = null, TimeProvider? timeProvider = null, ILogger<ChatHub>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(fanout);
        ArgumentNullException.ThrowIfNull(transport);
        _store = store;
        _fanout = fanout;
        _transport = transport;
        _options = options ?? new ChatHubOptions();
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger<ChatHub>.Instance;
        _limits = new ChatLimits(_options.MaxTextLength, _options.RateLimitCount, (int)Math.Ceiling(_options.RateLimitWindow.TotalSeconds), _options.MaxNickLength, _options.MaxRoomLength);
        _roomListTimer = _time.CreateTimer(static state => ((ChatHub)state!).PushRoomList(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _subscription = _fanout.Subscribe(DeliverAsync);
    }

    /// <summary>The connected clients.</summary>
    public int ClientCount => _sessions.Count;

    /// <summary>
    /// The rooms that have members, with their counts (members whose connection dropped within the grace period
    /// included), plus the default rooms; busiest first.
    /// </summary>
    public IReadOnlyList<RoomSummary> GetRooms()
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string name in _options.DefaultRooms)
        {
            counts[name] = 0;
        }

        foreach (Room room in _rooms.Values)
        {
            int members = room.MemberCount;
            if (members > 0)
            {
                counts[room.Name] = members;
            }
        }

        return counts.Select(pair => new RoomSummary(pair.Key, pair.Value))
            .OrderByDescending(room => room.Members)
            .ThenBy(room => room.Room, StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>The nicknames in a room, sorted, or an empty list when nobody is there.</summary>
    public IReadOnlyList<string> GetMembers(string room)
    {
        string? name = ChatNames.NormalizeRoom(room, _options.MaxRoomLength);
        return name is not null && _rooms.TryGetValue(name, out Room? found) ? found.MemberNicks : [];
    }

    /// <summary>Registers a new client and sends it the hello message.</summary>
    public async ValueTask ConnectAsync(IChatClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        var session = new ChatSession(
            client,
            new SlidingWindowRateLimiter(_options.RateLimitCount, _options.RateLimitWindow, _time),
            new SlidingWindowRateLimiter(_options.RequestRateLimitCount, _options.RequestRateLimitWindow, _time));
        if (!_sessions.TryAdd(client.Id, session))
        {
            throw new InvalidOperationException($"Client {client.Id} is already connected.");
        }

        await SendAsync(session, new HelloMessage("Tern.Chat", _store.HistoryId, _limits, GetRooms())).ConfigureAwait(false);
    }

    /// <summary>Handles one text message (UTF-8 JSON) from a client. Bad requests are answered with an error; they never throw.</summary>
    public async ValueTask ReceiveAsync(IChatClient client, ReadOnlyMemory<byte> utf8Json, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!_sessions.TryGetValue(client.Id, out ChatSession? session))
        {
            throw new InvalidOperationException($"Client {client.Id} is not connected.");
        }

        (ClientMessage? request, ErrorMessage? parseError) = Parse(utf8Json);
        string? clientRef = request?.Ref;

        // Messages people post have their limit; everything else (garbage included: flooding with it must not be
        // free) has its own, so that posting up to the message limit never stops a page from changing rooms.
        bool posting = request?.Type is "say" or "private";
        if (!(posting ? session.MessageLimiter : session.RequestLimiter).TryAcquire(out TimeSpan retryAfter))
        {
            await SendAsync(session, posting
                ? ChatErrors.RateLimited(_options.RateLimitCount, _options.RateLimitWindow, retryAfter, clientRef)
                : ChatErrors.RateLimited(_options.RequestRateLimitCount, _options.RequestRateLimitWindow, retryAfter, clientRef, "requests")).ConfigureAwait(false);
            return;
        }

        if (parseError is not null)
        {
            await SendAsync(session, parseError).ConfigureAwait(false);
            return;
        }

        try
        {
            ErrorMessage? error = request!.Type switch
            {
                null => ChatErrors.MissingField("type", null, clientRef),
                "join" => await JoinAsync(session, request, cancellationToken).ConfigureAwait(false),
                "leave" => await LeaveAsync(session, request, cancellationToken).ConfigureAwait(false),
                "say" => await SayAsync(session, request, cancellationToken).ConfigureAwait(false),
                "private" => await SendPrivateAsync(session, request, cancellationToken).ConfigureAwait(false),
                "history" => await SendHistoryAsync(session, request, cancellationToken).ConfigureAwait(false),
                "rooms" => await SendRoomsAsync(session).ConfigureAwait(false),
                _ => ChatErrors.UnknownType(request.Type, clientRef),
            };
            if (error is not null)
            {
                await SendAsync(session, error).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogError(e, "Client {Client}: '{Type}' failed", client.Id, request!.Type);
            await SendAsync(session, ChatErrors.ServerError(clientRef, request.Room)).ConfigureAwait(false);
        }
    }

    /// <summary>Answers a binary message with an error (the protocol is JSON text).</summary>
    public async ValueTask ReceiveBinaryAsync(IChatClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (_sessions.TryGetValue(client.Id, out ChatSession? session))
        {
            await SendAsync(session, ChatErrors.BinaryNotSupported()).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The client is gone: its memberships wait out the reconnect grace, then leave their rooms. Safe to call more
    /// than once.
    /// </summary>
    public async ValueTask DisconnectAsync(IChatClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!_sessions.TryRemove(client.Id, out ChatSession? session))
        {
            return;
        }

        foreach (Member member in session.TakeMemberships())
        {
            Room room = member.Room;
            await room.Gate.WaitAsync().ConfigureAwait(false);
            try
            {
                if (member.Session != session)
                {
                    continue; // Another connection took this place already.
                }

                if (_options.ReconnectGrace > TimeSpan.Zero && !_disposed)
                {
                    member.Session = null;
                    member.GraceTimer = _time.CreateTimer(static state => ((Member)state!).Hub.OnGraceExpired((Member)state!), member, _options.ReconnectGrace, Timeout.InfiniteTimeSpan);
                    room.Refresh();
                }
                else
                {
                    await RemoveMemberLockedAsync(member, "disconnected", CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Client {Client}: leaving room '{Room}' failed", client.Id, room.Name);
            }
            finally
            {
                ReleaseRoom(room);
            }
        }
    }

    /// <summary>Stops timers and event delivery. Members are not announced as leaving: the process is going away.</summary>
    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        _subscription.Dispose();
        await _roomListTimer.DisposeAsync().ConfigureAwait(false);
        foreach (Room room in _rooms.Values)
        {
            await room.Gate.WaitAsync().ConfigureAwait(false);
            try
            {
                foreach (Member member in room.Members.Values)
                {
                    member.GraceTimer?.Dispose();
                    member.GraceTimer = null;
                }
            }
            finally
            {
                room.Gate.Release();
            }
        }
    }

    private async ValueTask<ErrorMessage?> JoinAsync(ChatSession session, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Room is null)
        {
            return ChatErrors.MissingField("room", "join", request.Ref);
        }

        if (request.Nick is null)
        {
            return ChatErrors.MissingField("nick", "join", request.Ref);
        }

        string? roomName = ChatNames.NormalizeRoom(request.Room, _options.MaxRoomLength);
        if (roomName is null)
        {
            return ChatErrors.BadRoom(_options.MaxRoomLength, request.Ref);
        }

        string? nick = ChatNames.NormalizeNick(request.Nick, _options.MaxNickLength);
        if (nick is null)
        {
            return ChatErrors.BadNick(_options.MaxNickLength, request.Ref);
        }

        if (session.TryGetMembership(roomName, out Member? current))
        {
            return ChatErrors.AlreadyInRoom(roomName, current.Nick, request.Ref);
        }

        if (session.MembershipCount >= _options.MaxRoomsPerConnection)
        {
            return ChatErrors.TooManyRooms(_options.MaxRoomsPerConnection, request.Ref);
        }

        // Ids the client saw in another history (a new database) say nothing about this one.
        long? after = request.After is { } seen && (request.HistoryId is null || request.HistoryId == _store.HistoryId) ? seen : null;

        Room room = await EnterRoomAsync(roomName, cancellationToken).ConfigureAwait(false);
        try
        {
            string key = ChatNames.NickKey(nick);
            room.Members.TryGetValue(key, out Member? existing);
            bool resumed = existing is not null;
            if (existing is not null && !TokenMatches(existing.Token, request.Token))
            {
                return ChatErrors.NickTaken(existing.Nick, roomName, request.Ref);
            }

            // Read before changing anything, so a failing store leaves the room as it was.
            (IReadOnlyList<ChatMessage> history, bool more) = await ReadHistoryAsync(roomName, after, _options.HistoryOnJoin, cancellationToken).ConfigureAwait(false);

            Member member;
            if (existing is not null)
            {
                member = existing;
                member.GraceTimer?.Dispose();
                member.GraceTimer = null;
                ChatSession? previous = member.Session;
                if (previous is not null)
                {
                    previous.RemoveMembership(roomName, member);
                    await SendAsync(previous, new LeftMessage(roomName, "replaced", null)).ConfigureAwait(false);
                }
            }
            else
            {
                member = new Member(this, room, nick, NewToken());
                room.Members.Add(key, member);
            }

            member.Session = session;
            session.AddMembership(roomName, member);
            room.Refresh();
            await SendAsync(session, new JoinedMessage(
                roomName, member.Nick, member.Token, resumed, _store.HistoryId, room.MemberNicks, ToEvents(history), more, request.Ref)).ConfigureAwait(false);
            if (!resumed)
            {
                _logger.LogInformation("{Nick} joined #{Room}", member.Nick, roomName);
                await _fanout.PublishAsync(new ChatRoomEvent(ChatRoomEventKind.Join, roomName, member.Nick, Now()), cancellationToken).ConfigureAwait(false);
                ScheduleRoomList();
            }

            return null;
        }
        finally
        {
            ReleaseRoom(room);
        }
    }

    private async ValueTask<ErrorMessage?> LeaveAsync(ChatSession session, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Room is null)
        {
            return ChatErrors.MissingField("room", "leave", request.Ref);
        }

        string roomName = ChatNames.NormalizeRoom(request.Room, _options.MaxRoomLength) ?? request.Room;
        if (!session.TryGetMembership(roomName, out Member? member))
        {
            return ChatErrors.NotInRoom(roomName, request.Ref);
        }

        Room room = member.Room;
        await room.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (member.Session != session)
            {
                return ChatErrors.NotInRoom(roomName, request.Ref);
            }

            session.RemoveMembership(roomName, member);
            await SendAsync(session, new LeftMessage(roomName, "left", request.Ref)).ConfigureAwait(false);
            await RemoveMemberLockedAsync(member, "left", cancellationToken).ConfigureAwait(false);
            return null;
        }
        finally
        {
            ReleaseRoom(room);
        }
    }

    private async ValueTask<ErrorMessage?> SayAsync(ChatSession session, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Room is null)
        {
            return ChatErrors.MissingField("room", "say", request.Ref);
        }

        if (request.Text is null)
        {
            return ChatErrors.MissingField("text", "say", request.Ref);
        }

        string roomName = ChatNames.NormalizeRoom(request.Room, _options.MaxRoomLength) ?? request.Room;
        if (CheckText(request.Text, request.Ref, roomName) is { } textError)
        {
            return textError;
        }

        if (!session.TryGetMembership(roomName, out Member? member))
        {
            return ChatErrors.NotInRoom(roomName, request.Ref);
        }

        Room room = member.Room;
        await room.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (member.Session != session)
            {
                return ChatErrors.NotInRoom(roomName, request.Ref);
            }

            ChatMessage stored = await _store.AppendAsync(new NewChatMessage(roomName, member.Nick, request.Text, Now(), LimitRef(request.Ref)), cancellationToken).ConfigureAwait(false);
            await _fanout.PublishAsync(new ChatRoomEvent(ChatRoomEventKind.Message, roomName, member.Nick, stored.Time, stored), cancellationToken).ConfigureAwait(false);
            return null;
        }
        finally
        {
            room.Gate.Release();
        }
    }

    private async ValueTask<ErrorMessage?> SendPrivateAsync(ChatSession session, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Room is null)
        {
            return ChatErrors.MissingField("room", "private", request.Ref);
        }

        if (request.To is null)
        {
            return ChatErrors.MissingField("to", "private", request.Ref);
        }

        if (request.Text is null)
        {
            return ChatErrors.MissingField("text", "private", request.Ref);
        }

        string roomName = ChatNames.NormalizeRoom(request.Room, _options.MaxRoomLength) ?? request.Room;
        if (CheckText(request.Text, request.Ref, roomName) is { } textError)
        {
            return textError;
        }

        if (!session.TryGetMembership(roomName, out Member? sender))
        {
            return ChatErrors.NotInRoom(roomName, request.Ref);
        }

        Room room = sender.Room;
        await room.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (sender.Session != session)
            {
                return ChatErrors.NotInRoom(roomName, request.Ref);
            }

            string? to = ChatNames.NormalizeNick(request.To, _options.MaxNickLength);
            if (to is null || !room.Members.TryGetValue(ChatNames.NickKey(to), out Member? recipient) || recipient.Session is null)
            {
                return ChatErrors.NoSuchUser(request.To, roomName, request.Ref);
            }

            // Private messages are not stored: nicknames are not accounts, so a later holder of the name must not read them.
            var message = new PrivateEvent(roomName, sender.Nick, recipient.Nick, request.Text, Now(), LimitRef(request.Ref));
            IChatClient[] clients = recipient.Session == session ? [session.Client] : [recipient.Session.Client, session.Client];
            await _transport.SendAsync(ChatJson.Serialize(message), clients).ConfigureAwait(false);
            return null;
        }
        finally
        {
            room.Gate.Release();
        }
    }

    private async ValueTask<ErrorMessage?> SendHistoryAsync(ChatSession session, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Room is null)
        {
            return ChatErrors.MissingField("room", "history", request.Ref);
        }

        if (request.After is null)
        {
            return ChatErrors.MissingField("after", "history", request.Ref);
        }

        string roomName = ChatNames.NormalizeRoom(request.Room, _options.MaxRoomLength) ?? request.Room;
        if (!session.TryGetMembership(roomName, out _))
        {
            return ChatErrors.NotInRoom(roomName, request.Ref);
        }

        long after = request.HistoryId is null || request.HistoryId == _store.HistoryId ? request.After.Value : 0;
        (IReadOnlyList<ChatMessage> messages, bool more) = await ReadHistoryAsync(roomName, after, _options.HistoryOnJoin, cancellationToken).ConfigureAwait(false);
        await SendAsync(session, new HistoryMessage(roomName, ToEvents(messages), more, request.Ref)).ConfigureAwait(false);
        return null;
    }

    private async ValueTask<ErrorMessage?> SendRoomsAsync(ChatSession session)
    {
        await SendAsync(session, new RoomsMessage(GetRooms())).ConfigureAwait(false);
        return null;
    }

    private async ValueTask<(IReadOnlyList<ChatMessage> Messages, bool More)> ReadHistoryAsync(string room, long? after, int recentCount, CancellationToken cancellationToken)
    {
        if (after is null)
        {
            return (await _store.GetRecentAsync(room, recentCount, cancellationToken).ConfigureAwait(false), false);
        }

        // One extra row tells whether another page follows.
        IReadOnlyList<ChatMessage> page = await _store.GetAfterAsync(room, after.Value, _options.HistoryPageSize + 1, cancellationToken).ConfigureAwait(false);
        return page.Count > _options.HistoryPageSize ? (page.Take(_options.HistoryPageSize).ToArray(), true) : (page, false);
    }

    /// <summary>Delivers a room event from the fan-out to this process's members of the room.</summary>
    private async ValueTask DeliverAsync(ChatRoomEvent roomEvent, CancellationToken cancellationToken)
    {
        // No gate here: the local fan-out delivers while the publisher holds it. The member snapshot is consistent.
        if (!_rooms.TryGetValue(roomEvent.Room, out Room? room))
        {
            return;
        }

        IReadOnlyList<IChatClient> recipients = room.Recipients;
        if (recipients.Count == 0)
        {
            return;
        }

        string json = roomEvent.Kind switch
        {
            ChatRoomEventKind.Message when roomEvent.Message is { } message => ChatJson.Serialize(ToEvent(message)),
            ChatRoomEventKind.Join => ChatJson.Serialize(new JoinEvent(roomEvent.Room, roomEvent.Nick, roomEvent.Time)),
            ChatRoomEventKind.Leave => ChatJson.Serialize(new LeaveEvent(roomEvent.Room, roomEvent.Nick, roomEvent.Reason ?? "left", roomEvent.Time)),
            _ => throw new ArgumentException($"A {roomEvent.Kind} event without its message.", nameof(roomEvent)),
        };
        await _transport.SendAsync(json, recipients).ConfigureAwait(false);
    }

    private async ValueTask RemoveMemberLockedAsync(Member member, string reason, CancellationToken cancellationToken)
    {
        Room room = member.Room;
        member.GraceTimer?.Dispose();
        member.GraceTimer = null;
        member.Session = null;
        room.Members.Remove(ChatNames.NickKey(member.Nick));
        room.Refresh();
        _logger.LogInformation("{Nick} left #{Room} ({Reason})", member.Nick, room.Name, reason);
        await _fanout.PublishAsync(new ChatRoomEvent(ChatRoomEventKind.Leave, room.Name, member.Nick, Now(), Reason: reason), cancellationToken).ConfigureAwait(false);
        ScheduleRoomList();
    }

    private void OnGraceExpired(Member member) => _ = ExpireGraceAsync(member);

    private async Task ExpireGraceAsync(Member member)
    {
        Room room = member.Room;
        try
        {
            await room.Gate.WaitAsync().ConfigureAwait(false);
            try
            {
                if (!_disposed && member.Session is null && room.Members.TryGetValue(ChatNames.NickKey(member.Nick), out Member? current) && current == member)
                {
                    await RemoveMemberLockedAsync(member, "disconnected", CancellationToken.None).ConfigureAwait(false);
                }
            }
            finally
            {
                ReleaseRoom(room);
            }
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Removing {Nick} from #{Room} after the reconnect grace failed", member.Nick, room.Name);
        }
    }

    /// <summary>Gets the room, creating it, with its gate held; an emptied room that was just dropped is replaced.</summary>
    private async ValueTask<Room> EnterRoomAsync(string name, CancellationToken cancellationToken)
    {
        while (true)
        {
            Room room = _rooms.GetOrAdd(name, static n => new Room(n));
            await room.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (!room.Dropped)
            {
                return room;
            }

            room.Gate.Release();
        }
    }

    /// <summary>Releases a room's gate, dropping the room first if nobody is in it.</summary>
    private void ReleaseRoom(Room room)
    {
        if (room.Members.Count == 0 && !room.Dropped)
        {
            room.Dropped = true;
            _rooms.TryRemove(new KeyValuePair<string, Room>(room.Name, room));
        }

        room.Gate.Release();
    }

    private void ScheduleRoomList()
    {
        if (Interlocked.Exchange(ref _roomListPending, 1) == 0 && !_disposed)
        {
            _roomListTimer.Change(_options.RoomListDelay, Timeout.InfiniteTimeSpan);
        }
    }

    private void PushRoomList()
    {
        Volatile.Write(ref _roomListPending, 0);
        IChatClient[] everyone = _sessions.Values.Select(s => s.Client).ToArray();
        if (everyone.Length == 0 || _disposed)
        {
            return;
        }

        _ = PushAsync(ChatJson.Serialize(new RoomsMessage(GetRooms())), everyone);

        async Task PushAsync(string json, IChatClient[] clients)
        {
            try
            {
                await _transport.SendAsync(json, clients).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                _logger.LogWarning(e, "Pushing the room list failed");
            }
        }
    }

    private ErrorMessage? CheckText(string text, string? clientRef, string room)
    {
        if (text.Length > _options.MaxTextLength)
        {
            return ChatErrors.TextTooLong(text.Length, _options.MaxTextLength, clientRef, room);
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            return ChatErrors.EmptyText(clientRef, room);
        }

        foreach (char c in text)
        {
            if (char.IsControl(c) && c is not ('\n' or '\r' or '\t'))
            {
                return ChatErrors.BadText(clientRef, room);
            }
        }

        return null;
    }

    private static (ClientMessage? Request, ErrorMessage? Error) Parse(ReadOnlyMemory<byte> utf8Json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json);
        }
        catch (JsonException e)
        {
            return (null, ChatErrors.BadJson(e.Message));
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, ChatErrors.NotAnObject());
            }

            try
            {
                return (root.Deserialize(ChatJson.TypeInfo<ClientMessage>()), null);
            }
            catch (JsonException e)
            {
                // The syntax is fine, so a field has the wrong type; e.Path names it ("$.after").
                string field = e.Path is { Length: > 2 } path ? path[2..] : "?";
                string expected = field == "after" ? "a whole number" : "a string";
                string? clientRef = root.TryGetProperty("ref", out JsonElement refElement) && refElement.ValueKind == JsonValueKind.String ? refElement.GetString() : null;
                return (null, ChatErrors.BadField(field, expected, clientRef));
            }
        }
    }

    private ValueTask SendAsync<T>(ChatSession session, T message) =>
        _transport.SendAsync(ChatJson.Serialize(message), [session.Client]);

    /// <summary>Now, in the whole milliseconds the store keeps, so live and stored copies of a message agree.</summary>
    private DateTimeOffset Now() => DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());

    private static string NewToken() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');

    private static bool TokenMatches(string expected, string? offered) =>
        offered is not null && CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(expected), System.Text.Encoding.UTF8.GetBytes(offered));

    private static string? LimitRef(string? clientRef) => clientRef is { Length: > 64 } ? clientRef[..64] : clientRef;

    private static MessageEvent ToEvent(ChatMessage message) =>
        new(message.Id, message.Room, message.Nick, message.Text, message.Time, message.ClientRef);

    private static MessageEvent[] ToEvents(IReadOnlyList<ChatMessage> messages) => messages.Select(ToEvent).ToArray();

    /// <summary>A room of this process: its members, and the gate that orders everything that happens in it.</summary>
    private sealed class Room(string name)
    {
        private volatile IChatClient[] _recipients = [];
        private volatile string[] _memberNicks = [];

        public string Name { get; } = name;

        public SemaphoreSlim Gate { get; } = new(1, 1);

        /// <summary>Members by nickname key. Only touched under <see cref="Gate"/>.</summary>
        public Dictionary<string, Member> Members { get; } = new(StringComparer.Ordinal);

        /// <summary>Set, under the gate, when the room left the hub's dictionary; a joiner holding it must look again.</summary>
        public bool Dropped { get; set; }

        /// <summary>The connected members' clients: a snapshot, readable without the gate.</summary>
        public IReadOnlyList<IChatClient> Recipients => _recipients;

        /// <summary>Every member's nickname, sorted: a snapshot, readable without the gate.</summary>
        public IReadOnlyList<string> MemberNicks => _memberNicks;

        public int MemberCount => _memberNicks.Length;

        /// <summary>Rebuilds the snapshots after a change; called under the gate.</summary>
        public void Refresh()
        {
            _recipients = Members.Values.Where(m => m.Session is not null).Select(m => m.Session!.Client).ToArray();
            _memberNicks = Members.Values.Select(m => m.Nick).Order(StringComparer.OrdinalIgnoreCase).ToArray();
        }
    }

    /// <summary>A nickname in a room, held by a connection (or by nobody, during the reconnect grace).</summary>
    private sealed class Member(ChatHub hub, Room room, string nick, string token)
    {
        public ChatHub Hub { get; } = hub;

        public Room Room { get; } = room;

        public string Nick { get; } = nick;

        public string Token { get; } = token;

        /// <summary>The connection holding the nickname; null while waiting for a reconnect. Changed under the room's gate.</summary>
        public ChatSession? Session { get; set; }

        public ITimer? GraceTimer { get; set; }
    }

    /// <summary>One connected client: its rate limiters and the rooms it is in.</summary>
    private sealed class ChatSession(IChatClient client, SlidingWindowRateLimiter messageLimiter, SlidingWindowRateLimiter requestLimiter)
    {
        private readonly object _lock = new();
        private readonly Dictionary<string, Member> _memberships = new(StringComparer.Ordinal);

        public IChatClient Client { get; } = client;

        /// <summary>For say and private.</summary>
        public SlidingWindowRateLimiter MessageLimiter { get; } = messageLimiter;

        /// <summary>For every other frame.</summary>
        public SlidingWindowRateLimiter RequestLimiter { get; } = requestLimiter;

        public int MembershipCount
        {
            get
            {
                lock (_lock)
                {
                    return _memberships.Count;
                }
            }
        }

        public bool TryGetMembership(string room, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Member? member)
        {
            lock (_lock)
            {
                return _memberships.TryGetValue(room, out member);
            }
        }

        public void AddMembership(string room, Member member)
        {
            lock (_lock)
            {
                _memberships[room] = member;
            }
        }

        /// <summary>Removes the membership if it is still this one (another connection may have taken it over).</summary>
        public void RemoveMembership(string room, Member member)
        {
            lock (_lock)
            {
                if (_memberships.TryGetValue(room, out Member? current) && current == member)
                {
                    _memberships.Remove(room);
                }
            }
        }

        public Member[] TakeMemberships()
        {
            lock (_lock)
            {
                Member[] all = [.. _memberships.Values];
                _memberships.Clear();
                return all;
            }
        }
    }
}
