using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tern.Chat.Accounts;
using Tern.Chat.Protocol;
using Tern.Chat.Storage;

namespace Tern.Chat.Hub;

/// <summary>
/// The chat's rules for signed-in accounts: rooms and direct conversations, messages and their order, edits,
/// deletions, read positions, search, presence, typing, display names and limits (docs/chat-protocol.md).
/// Transport-neutral: it reads JSON requests from <see cref="IChatClient"/>s and answers through an
/// <see cref="IChatTransport"/>; it keeps accounts in an <see cref="IAccountStore"/>, conversations in an
/// <see cref="IConversationStore"/>, and passes events between processes through an <see cref="IChatFanout"/>.
/// </summary>
/// <remarks>
/// <para><b>Identity.</b> The web layer authenticates the WebSocket handshake and hands the hub a
/// <see cref="ChatIdentity"/> in <see cref="ConnectAsync"/>. Memberships and read positions belong to the account,
/// not the connection: connecting and disconnecting announce nothing but presence.</para>
/// <para><b>Order.</b> Each conversation has a gate. Appending a message (or an edit, a deletion, a membership
/// change) and publishing it happen under the gate, so ids and deliveries follow one order and every member sees the
/// same one. A message is serialized once and handed to the transport once with every connection of every member.</para>
/// <para><b>Access.</b> Every request about a conversation first checks that the account is a member. A conversation
/// that does not exist gets the same <c>not_member</c> answer as one the account is not in, and a message that is not
/// the account's gets the same <c>no_such_message</c> as one that does not exist, so ids cannot be probed.</para>
/// <para><b>Unread counts.</b> The server does not push counts with every message: clients count <c>message</c>
/// events by others (and the ones whose <c>mentions</c> name them) after their read position. It pushes <c>read</c>
/// to every connection of an account when the account's read position moves, so all its devices agree.</para>
/// <para><b>Errors.</b> A bad or refused request is answered with an <c>error</c> (carrying the request's
/// <c>ref</c> and <c>conversation</c>); requests never throw. A store failure is logged and answered with
/// <c>server_error</c>.</para>
/// <para><b>Threads.</b> Calls for one client must not overlap (one reader per connection); calls for different
/// clients may run at once.</para>
/// </remarks>
public sealed partial class ChatHub : IAsyncDisposable
{
    /// <summary>The WebSocket close code of a connection whose account signed out everywhere.</summary>
    public const int SignedOutCloseCode = 4001;

    /// <summary>The close reason that goes with <see cref="SignedOutCloseCode"/>.</summary>
    public const string SignedOutReason = "signed out";

    /// <summary>The WebSocket close code (1012, service restart) of connections closed because events between nodes were lost; their clients reconnect and catch up.</summary>
    public const int ServiceRestartCloseCode = 1012;

    /// <summary>The longest <c>ref</c> a client may send.</summary>
    public const int MaxRefLength = 64;

    // Conversation gates are striped: a fixed set, chosen by id, instead of one per conversation kept forever. Two
    // conversations sharing a stripe only wait for each other; nothing ever holds two stripes.
    private const int GateStripes = 1024;

    private readonly IAccountStore _accounts;
    private readonly IConversationStore _store;
    private readonly IChatFanout _fanout;
    private readonly IChatTransport _transport;
    private readonly ChatHubOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly OnlineRegistry _online = new();
    private readonly ConversationMembers _members;
    private readonly PresenceBoard _presence = new();
    private readonly ChatRateLimits _rateLimits;
    private readonly SemaphoreSlim[] _gates = new SemaphoreSlim[GateStripes];
    private readonly ChatLimits _limits;
    private readonly IDisposable _subscription;
    private readonly ITimer _directoryTimer;
    private readonly ITimer _sessionTimer;
    private int _checkingSessions;
    private volatile bool _disposed;

    /// <summary>Creates a hub.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A limit in <paramref name="options"/> is out of range.</exception>
    public ChatHub(
        IAccountStore accounts,
        IConversationStore conversations,
        IChatFanout fanout,
        IChatTransport transport,
        ChatHubOptions? options = null,
        TimeProvider? timeProvider = null,
        ILogger<ChatHub>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(accounts);
        ArgumentNullException.ThrowIfNull(conversations);
        ArgumentNullException.ThrowIfNull(fanout);
        ArgumentNullException.ThrowIfNull(transport);
        _accounts = accounts;
        _store = conversations;
        _fanout = fanout;
        _transport = transport;
        _options = options ?? new ChatHubOptions();
        _options.Validate();
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger<ChatHub>.Instance;
        _members = new ConversationMembers(conversations);
        _rateLimits = new ChatRateLimits(_options);
        for (int i = 0; i < _gates.Length; i++)
        {
            _gates[i] = new SemaphoreSlim(1, 1);
        }

        _limits = new ChatLimits(
            _options.MaxTextLength, _options.MaxTextLines, DisplayNameRules.MaxLength, _options.MaxRoomLength, _options.MaxRoomsPerAccount,
            _options.RateLimitCount, _options.RateLimitWindow.TotalSeconds, _options.HistoryPageSize, _options.SearchPageSize, _options.TypingInterval.TotalSeconds);
        _directoryTimer = _time.CreateTimer(static state => ((ChatHub)state!).OnDirectoryTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        TimeSpan sessionCheck = _options.SessionCheckInterval > TimeSpan.Zero ? _options.SessionCheckInterval : Timeout.InfiniteTimeSpan;
        _sessionTimer = _time.CreateTimer(static state => ((ChatHub)state!).OnSessionTimer(), this, sessionCheck, sessionCheck);
        _subscription = _fanout.Subscribe(DeliverAsync);
    }

    /// <summary>The connections to this hub.</summary>
    public int ConnectionCount => _online.ConnectionCount;

    /// <summary>The accounts with at least one connection to this hub.</summary>
    public int OnlineAccountCount => _online.AccountCount;

    /// <summary>
    /// Registers an authenticated connection and sends it <c>hello</c> (its first message), then announces the
    /// account's presence if it changed.
    /// </summary>
    /// <param name="client">The connection.</param>
    /// <param name="identity">Whose it is (from the session cookie).</param>
    /// <param name="clientAddress">The client's network address (the key of the per-address message limit).</param>
    /// <param name="cancellationToken">Cancels the set-up.</param>
    /// <exception cref="InvalidOperationException">A client with this id is already connected.</exception>
    public async ValueTask ConnectAsync(IChatClient client, ChatIdentity identity, string clientAddress, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentNullException.ThrowIfNull(clientAddress);
        OnlineAccount account = await _online.EnterAsync(identity, cancellationToken).ConfigureAwait(false);
        ChatConnection? connection = null;
        try
        {
            connection = new ChatConnection(client, account, clientAddress, identity.SessionId);
            if (!_online.TryAddConnection(connection))
            {
                connection = null;
                throw new InvalidOperationException($"Client {client.Id} is already connected.");
            }

            // From here on the connection receives what concerns the account, held back until hello has gone out.
            account.Add(connection);
            HelloMessage hello = await BuildHelloAsync(account, cancellationToken).ConfigureAwait(false);
            await _transport.SendAsync(ChatJson.Serialize(hello), [client]).ConfigureAwait(false);
            await connection.ReleaseHeldAsync(_transport).ConfigureAwait(false);
            await AnnouncePresenceLockedAsync(account, cancellationToken).ConfigureAwait(false);
            _logger.LogDebug("Connection {Client}: {Username} from {Address}", client.Id, identity.Username, clientAddress);
        }
        catch when (connection is not null)
        {
            // Undo the registration, so a connection that never got its hello is not left behind.
            _online.TryRemoveConnection(client.Id, out _);
            account.Remove(connection);
            _online.RemoveIfEmpty(account);
            throw;
        }
        finally
        {
            account.Gate.Release();
        }
    }

    /// <summary>Handles one text message (UTF-8 JSON) from a client. Bad and refused requests are answered with an error; they never throw.</summary>
    /// <exception cref="InvalidOperationException">The client is not connected.</exception>
    public async ValueTask ReceiveAsync(IChatClient client, ReadOnlyMemory<byte> utf8Json, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!_online.TryGetConnection(client.Id, out ChatConnection? connection))
        {
            throw new InvalidOperationException($"Client {client.Id} is not connected.");
        }

        if (connection.Closed)
        {
            return; // Signed out: the socket is closing; nothing it still sends counts.
        }

        (ClientMessage? request, ErrorMessage? parseError) = ChatRequestParser.Parse(utf8Json);

        // Every frame counts against the connection's request limit, garbage included: flooding must not be free.
        ErrorMessage? refusal = _rateLimits.TryRequest(client.Id, request?.Ref, request?.Conversation);
        if (refusal is not null || parseError is not null)
        {
            await SendAsync(connection, refusal ?? parseError!).ConfigureAwait(false);
            return;
        }

        try
        {
            ErrorMessage? error = await HandleAsync(connection, request!, cancellationToken).ConfigureAwait(false);
            if (error is not null)
            {
                await SendAsync(connection, error).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            _logger.LogError(e, "Connection {Client} ({Username}): '{Type}' failed", client.Id, connection.Account.Username, request!.Type);
            await SendAsync(connection, ChatErrors.ServerError(request.Ref, request.Conversation)).ConfigureAwait(false);
        }
    }

    /// <summary>Answers a binary message with an error (the protocol is JSON text).</summary>
    public async ValueTask ReceiveBinaryAsync(IChatClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (_online.TryGetConnection(client.Id, out ChatConnection? connection) && !connection.Closed)
        {
            ErrorMessage? refusal = _rateLimits.TryRequest(client.Id, null, null);
            await SendAsync(connection, refusal ?? ChatErrors.BinaryNotSupported()).ConfigureAwait(false);
        }
    }

    /// <summary>The client is gone: it stops receiving, and the account's presence is announced if it changed. Safe to call more than once.</summary>
    public async ValueTask DisconnectAsync(IChatClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (!_online.TryRemoveConnection(client.Id, out ChatConnection? connection))
        {
            return;
        }

        OnlineAccount account = connection.Account;
        await account.Gate.WaitAsync().ConfigureAwait(false);
        try
        {
            account.Remove(connection);
            if (!_disposed)
            {
                await AnnouncePresenceLockedAsync(account, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Announcing the presence of {Username} after connection {Client} ended failed", account.Username, client.Id);
        }
        finally
        {
            _online.RemoveIfEmpty(account);
            account.Gate.Release();
        }
    }

    /// <summary>
    /// Closes the connections of one sign-in session of the account (<paramref name="sessionId"/>), or of all its
    /// sessions when it is null, on every process sharing the fan-out, with <see cref="SignedOutCloseCode"/>
    /// ("signed out"). Call it after revoking the sessions, so that the page, which does not reconnect after 4001,
    /// cannot come back with a session that still works.
    /// </summary>
    public ValueTask SignOutAsync(long accountId, string? sessionId = null, CancellationToken cancellationToken = default) =>
        _fanout.PublishAsync(new ChatEvent(ChatEventKind.SignOut, 0, accountId, null, sessionId), cancellationToken);

    /// <summary>
    /// Closes, with <see cref="SignedOutCloseCode"/>, this hub's connections whose sign-in session
    /// (<see cref="ChatIdentity.SessionId"/>, the store's token hash) has expired or is gone from the store. The
    /// cookie was checked once, at the handshake; without this a socket would outlive its session for as long as it
    /// stays open. Runs every <see cref="ChatHubOptions.SessionCheckInterval"/>; each process checks its own connections.
    /// </summary>
    /// <returns>How many sessions were found expired or gone.</returns>
    public async ValueTask<int> CloseExpiredSessionsAsync(CancellationToken cancellationToken = default)
    {
        DateTimeOffset now = _time.GetUtcNow();
        int expired = 0;
        foreach ((long accountId, string sessionId) in _online.Sessions())
        {
            if (await _accounts.FindSessionAsync(sessionId, now, cancellationToken).ConfigureAwait(false) is null)
            {
                expired++;
                await CloseAccountAsync(accountId, sessionId).ConfigureAwait(false);
            }
        }

        return expired;
    }

    private void OnSessionTimer() => _ = CheckSessionsAsync();

    private async Task CheckSessionsAsync()
    {
        // A check still running (a slow store) is not doubled up.
        if (_disposed || Interlocked.Exchange(ref _checkingSessions, 1) == 1)
        {
            return;
        }

        try
        {
            await CloseExpiredSessionsAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "Checking the sessions of open connections failed; the next check tries again");
        }
        finally
        {
            Volatile.Write(ref _checkingSessions, 0);
        }
    }

    /// <summary>Stops the directory and session timers, event delivery and the rate limiters. Nobody is announced as leaving: the process is going away.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _subscription.Dispose();
        await _directoryTimer.DisposeAsync().ConfigureAwait(false);
        await _sessionTimer.DisposeAsync().ConfigureAwait(false);
        await _rateLimits.DisposeAsync().ConfigureAwait(false);
    }

    private ValueTask<ErrorMessage?> HandleAsync(ChatConnection connection, ClientMessage request, CancellationToken cancellationToken)
    {
        if (request.Type is null)
        {
            return ValueTask.FromResult<ErrorMessage?>(ChatErrors.MissingField("type", null, request.Ref, request.Conversation));
        }

        if (request.Ref is { Length: > MaxRefLength })
        {
            return ValueTask.FromResult<ErrorMessage?>(ChatErrors.BadField("ref", $"at most {MaxRefLength} characters", null, request.Conversation));
        }

        if (IsMessage(request.Type)
            && _rateLimits.TryMessage(connection.Account.Id, connection.Address, request.Ref, request.Conversation) is { } limited)
        {
            return ValueTask.FromResult<ErrorMessage?>(limited);
        }

        return request.Type switch
        {
            "join" => JoinAsync(connection, request, cancellationToken),
            "leave" => LeaveAsync(connection, request, cancellationToken),
            "dm" => OpenDirectAsync(connection, request, cancellationToken),
            "say" => SayAsync(connection, request, cancellationToken),
            "edit" => EditAsync(connection, request, cancellationToken),
            "delete" => DeleteAsync(connection, request, cancellationToken),
            "history" => SendHistoryAsync(connection, request, cancellationToken),
            "read" => MarkReadAsync(connection, request, cancellationToken),
            "search" => SearchAsync(connection, request, cancellationToken),
            "typing" => TypingAsync(connection, request, cancellationToken),
            "presence" => SetPresenceAsync(connection, request, cancellationToken),
            "members" => SendMembersAsync(connection, request, cancellationToken),
            "rooms" => SendRoomsAsync(connection, request, cancellationToken),
            "profile" => SetProfileAsync(connection, request, cancellationToken),
            _ => ValueTask.FromResult<ErrorMessage?>(ChatErrors.UnknownType(request.Type, request.Ref)),
        };
    }

    /// <summary>
    /// The requests that count as messages: they write, or are announced to other people. <c>leave</c> and
    /// <c>profile</c> count too (the protocol's list names say, edit, delete, dm and join): both write and fan out.
    /// </summary>
    private static bool IsMessage(string type) => type is "say" or "edit" or "delete" or "dm" or "join" or "leave" or "profile";

    private ValueTask SendAsync<T>(ChatConnection connection, T message) =>
        _transport.SendAsync(ChatJson.Serialize(message), [connection.Client]);

    /// <summary>
    /// Opens a conversation's section: <see cref="ConversationSection.EnterAsync"/> then takes the gate that orders
    /// everything stored and delivered in the conversation in this process, inside the fan-out's batch that orders it
    /// among processes. Dispose the section to leave; what was not committed is dropped.
    /// </summary>
    /// <remarks>
    /// Call it from the method that makes the changes, not from a helper that is itself async: the fan-out's batch
    /// marks the calling flow (see <see cref="IChatFanout.Begin"/>).
    /// </remarks>
    private ConversationSection OpenConversation(long conversationId) =>
        new(this, conversationId, _gates[(int)((ulong)conversationId % GateStripes)], _fanout.Begin(conversationId));

    /// <summary>
    /// Inside a conversation's gate and fan-out batch: the store changes made here and the events published here are
    /// committed together by <see cref="CommitAsync"/>.
    /// </summary>
    private sealed class ConversationSection(ChatHub hub, long conversationId, SemaphoreSlim gate, IChatFanoutBatch batch) : IAsyncDisposable
    {
        private readonly List<ChatEvent> _membershipChanges = [];
        private bool _entered;
        private bool _committed;

        public async ValueTask EnterAsync(CancellationToken cancellationToken)
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            _entered = true;
        }

        public void Publish(ChatEventKind kind, long conversation, long accountId, string? json)
        {
            var chatEvent = new ChatEvent(kind, conversation, accountId, json);
            batch.Add(chatEvent);
            if (kind is ChatEventKind.MemberJoined or ChatEventKind.MemberLeft)
            {
                _membershipChanges.Add(chatEvent);
            }
        }

        public async ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            await batch.CommitAsync(cancellationToken).ConfigureAwait(false);
            _committed = true;

            // This process's caches learn its own membership changes at once, not when the fan-out brings the events
            // back (from another process that can be later): a "say" right after "joined" must find the member. The
            // event applies the same absolute change again when it arrives.
            foreach (ChatEvent change in _membershipChanges)
            {
                hub.ApplyMembership(change);
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                if (!_committed && _entered)
                {
                    // Where the store shares the batch's transaction, its changes are rolled back now, and members
                    // loaded inside it may include one that never was.
                    hub._members.Forget(conversationId);
                }

                await batch.DisposeAsync().ConfigureAwait(false);
            }
            finally
            {
                if (_entered)
                {
                    gate.Release();
                }
            }
        }
    }

    /// <summary>Now, in the whole milliseconds the store keeps, so live and stored copies of a message agree.</summary>
    private DateTimeOffset Now() => DateTimeOffset.FromUnixTimeMilliseconds(_time.GetUtcNow().ToUnixTimeMilliseconds());
}
