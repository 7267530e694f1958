using System.Collections.Concurrent;
using Tern.Chat.Protocol;

namespace Tern.Chat.Hub;

/// <summary>One connection of an account, as the hub keeps it.</summary>
internal sealed class ChatConnection(IChatClient client, OnlineAccount account, string address, string? sessionId)
{
    private readonly object _heldLock = new();
    private List<string>? _held = [];
    private volatile bool _away;
    private volatile bool _closed;

    public IChatClient Client { get; } = client;

    public OnlineAccount Account { get; } = account;

    /// <summary>
    /// The client's network address as the per-address limits count it: an IPv6 address by its /64 (the block one
    /// subscriber gets, 2^64 addresses to rotate through), an IPv4-mapped one as IPv4, anything else as given.
    /// </summary>
    public string Address { get; } = System.Net.IPAddress.TryParse(address, out System.Net.IPAddress? ip)
        ? Accounts.SignInThrottle.PartitionOf(ip).ToString()
        : address;

    /// <summary>The sign-in session the connection belongs to (<see cref="ChatIdentity.SessionId"/>).</summary>
    public string? SessionId { get; } = sessionId;

    /// <summary>The tab is hidden or idle (from <c>presence</c>); changed under the account's gate.</summary>
    public bool Away
    {
        get => _away;
        set => _away = value;
    }

    /// <summary>Set when the hub closes the connection (sign-out): its requests are ignored from then on.</summary>
    public bool Closed
    {
        get => _closed;
        set => _closed = value;
    }

    /// <summary>
    /// Keeps a message back while the connection's hello has not gone out (hello must be first); false once the
    /// connection is ready, when the caller sends it itself.
    /// </summary>
    public bool TryHold(string json)
    {
        if (Volatile.Read(ref _held) is null)
        {
            return false;
        }

        lock (_heldLock)
        {
            if (_held is null)
            {
                return false;
            }

            _held.Add(json);
            return true;
        }
    }

    /// <summary>After hello: sends what was held back, in order, and from then on lets messages through.</summary>
    public async ValueTask ReleaseHeldAsync(IChatTransport transport)
    {
        while (true)
        {
            string[] batch;
            lock (_heldLock)
            {
                if (_held is null or { Count: 0 })
                {
                    _held = null;
                    return;
                }

                // Messages held while this batch goes out wait for the next round, so the order stays.
                batch = [.. _held];
                _held.Clear();
            }

            foreach (string json in batch)
            {
                await transport.SendAsync(json, [Client]).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>An account with at least one connection to this hub: its connections, presence and typing throttle.</summary>
internal sealed class OnlineAccount(long id, string username, string displayName)
{
    private readonly object _conversationsLock = new();
    private readonly object _typingLock = new();
    private HashSet<long>? _conversationIds;
    private readonly Dictionary<long, long> _lastTyping = [];
    private volatile ChatConnection[] _connections = [];
    private volatile string _displayName = displayName;

    public long Id { get; } = id;

    public string Username { get; } = username;

    public string DisplayName
    {
        get => _displayName;
        set => _displayName = value;
    }

    /// <summary>
    /// Orders the account's connection changes and presence announcements (so "online" and "offline" go out in the
    /// order they happened), and its joins (so two tabs cannot together pass the room limit). Taken before any
    /// conversation gate, never after one.
    /// </summary>
    public SemaphoreSlim Gate { get; } = new(1, 1);

    /// <summary>Set, under the gate, when the entry left the registry; a connection arriving with it in hand must look again.</summary>
    public bool Removed { get; set; }

    /// <summary>The connections: a snapshot, readable without the gate.</summary>
    public IReadOnlyList<ChatConnection> Connections => _connections;

    /// <summary>The presence announced last (under the gate).</summary>
    public string AnnouncedStatus { get; set; } = PresenceStatus.Offline;

    /// <summary>When (<see cref="TimeProvider.GetTimestamp"/>) the presence was announced last (under the gate).</summary>
    public long AnnouncedAt { get; set; }

    /// <summary>The timer that announces a change held back by <see cref="ChatHubOptions.PresenceInterval"/>, while one is pending (under the gate).</summary>
    public ITimer? PresenceTimer { get; set; }

    /// <summary>online when any connection is, away when all are away, offline when there are none.</summary>
    public string Status
    {
        get
        {
            ChatConnection[] connections = _connections;
            return connections.Length == 0 ? PresenceStatus.Offline
                : Array.Exists(connections, c => !c.Away) ? PresenceStatus.Online
                : PresenceStatus.Away;
        }
    }

    /// <summary>The ids of the account's conversations, or null before <see cref="BeginTracking"/>.</summary>
    public long[]? ConversationIds
    {
        get
        {
            lock (_conversationsLock)
            {
                return _conversationIds?.ToArray();
            }
        }
    }

    /// <summary>
    /// Starts following membership events for the account, before its conversations are read from the store, so that
    /// one opened by someone else meanwhile is not missed; <see cref="AddConversations"/> then adds what was read.
    /// </summary>
    public void BeginTracking()
    {
        lock (_conversationsLock)
        {
            _conversationIds ??= [];
        }
    }

    /// <summary>Adds conversations read from the store.</summary>
    public void AddConversations(IEnumerable<long> conversationIds)
    {
        lock (_conversationsLock)
        {
            (_conversationIds ??= []).UnionWith(conversationIds);
        }
    }

    /// <summary>A membership of the account started or ended (from an event).</summary>
    public void SetMember(long conversationId, bool isMember)
    {
        lock (_conversationsLock)
        {
            if (isMember)
            {
                _conversationIds?.Add(conversationId);
            }
            else
            {
                _conversationIds?.Remove(conversationId);
            }
        }
    }

    public void Add(ChatConnection connection) => _connections = [.. _connections, connection];

    public void Remove(ChatConnection connection) => _connections = Array.FindAll(_connections, c => c != connection);

    /// <summary>Whether a typing notice in the conversation may be passed on now, and if so records it.</summary>
    public bool TryType(long conversationId, long now, long interval)
    {
        lock (_typingLock)
        {
            if (_lastTyping.TryGetValue(conversationId, out long last) && now - last < interval)
            {
                return false;
            }

            _lastTyping[conversationId] = now;
            if (_lastTyping.Count > 64)
            {
                // Forget conversations typed in long ago, so a long session does not collect them all.
                foreach (long stale in _lastTyping.Where(p => now - p.Value >= interval).Select(p => p.Key).ToArray())
                {
                    _lastTyping.Remove(stale);
                }
            }

            return true;
        }
    }
}

/// <summary>The accounts and connections of this hub.</summary>
internal sealed class OnlineRegistry
{
    private readonly ConcurrentDictionary<long, OnlineAccount> _accounts = new();
    private readonly ConcurrentDictionary<long, ChatConnection> _connections = new();

    public int ConnectionCount => _connections.Count;

    public int AccountCount => _accounts.Count;

    public bool TryGetConnection(long clientId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ChatConnection? connection) =>
        _connections.TryGetValue(clientId, out connection);

    /// <summary>The sign-in sessions with a connection here (each once), with their accounts.</summary>
    public List<(long AccountId, string SessionId)> Sessions() =>
        _connections.Values.Where(c => c.SessionId is not null && !c.Closed).Select(c => (c.Account.Id, c.SessionId!)).Distinct().ToList();

    public bool TryAddConnection(ChatConnection connection) => _connections.TryAdd(connection.Client.Id, connection);

    public bool TryRemoveConnection(long clientId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ChatConnection? connection) =>
        _connections.TryRemove(clientId, out connection);

    public OnlineAccount? Find(long accountId) => _accounts.TryGetValue(accountId, out OnlineAccount? account) ? account : null;

    /// <summary>The account's entry with its gate held, created when missing (an entry just removed is replaced).</summary>
    public async ValueTask<OnlineAccount> EnterAsync(ChatIdentity identity, CancellationToken cancellationToken)
    {
        while (true)
        {
            OnlineAccount account = _accounts.GetOrAdd(identity.AccountId, static (_, i) => new OnlineAccount(i.AccountId, i.Username, i.DisplayName), identity);
            await account.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (!account.Removed)
            {
                return account;
            }

            account.Gate.Release();
        }
    }

    /// <summary>Drops the account's entry when it has no connection left; called under its gate.</summary>
    public void RemoveIfEmpty(OnlineAccount account)
    {
        if (account.Connections.Count == 0 && !account.Removed)
        {
            account.Removed = true;
            _accounts.TryRemove(new KeyValuePair<long, OnlineAccount>(account.Id, account));
        }
    }

    /// <summary>
    /// The connections of the given accounts that are online here and ready for <paramref name="json"/>; connections
    /// still waiting for their hello keep it for later instead.
    /// </summary>
    public List<IChatClient> RecipientsOf(IEnumerable<long> accountIds, string json, long exceptAccountId = 0)
    {
        var clients = new List<IChatClient>();
        foreach (long id in accountIds)
        {
            if (id != exceptAccountId && _accounts.TryGetValue(id, out OnlineAccount? account))
            {
                AddRecipients(clients, account.Connections, json);
            }
        }

        return clients;
    }

    /// <summary>Every connection of this hub that is ready for <paramref name="json"/> (see <see cref="RecipientsOf"/>).</summary>
    public List<IChatClient> AllRecipients(string json)
    {
        var clients = new List<IChatClient>();
        AddRecipients(clients, _connections.Values, json);
        return clients;
    }

    private static void AddRecipients(List<IChatClient> clients, IEnumerable<ChatConnection> connections, string json)
    {
        foreach (ChatConnection connection in connections)
        {
            if (!connection.TryHold(json))
            {
                clients.Add(connection.Client);
            }
        }
    }

    /// <summary>The accounts with a connection here, as they are now.</summary>
    public OnlineAccount[] Accounts() => [.. _accounts.Values];

    /// <summary>The connections here, as they are now.</summary>
    public ChatConnection[] Connections() => [.. _connections.Values];
}
