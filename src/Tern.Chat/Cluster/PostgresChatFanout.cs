using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tern.Chat.Hub;
using Tern.Chat.Protocol;
using Tern.Chat.Storage;

namespace Tern.Chat.Cluster;

/// <summary>
/// The fan-out between Tern.Chat nodes that share one PostgreSQL database (<see cref="PostgresChatDatabase"/>), with
/// LISTEN/NOTIFY. docs/scale-out.md explains the design; in short:
/// </summary>
/// <remarks>
/// <para><b>One order.</b> A conversation's batch (<see cref="Begin"/>) runs the store's changes and the insert of its
/// events into <c>fanout_events</c> in one transaction that first locks the conversation's row, and NOTIFYs the
/// events in it. PostgreSQL delivers notifications in commit order, and the lock makes a conversation's transactions
/// commit one after the other, so every node receives a conversation's events in the order of its changes (and of
/// its message ids). A node delivers its own events through its listening connection too, so that it sees the same
/// order as every other node.</para>
/// <para><b>Nothing lost.</b> An event is stored if and only if its change is. A notification carries the event when
/// it fits under PostgreSQL's 8,000-byte payload limit, else only its sequence number, and the node reads the row.
/// When the listening connection drops, the node reconnects, listens again, and reads every event kept since shortly
/// before its last good heartbeat, skipping the ones it delivered already, so each is delivered once. Events are
/// kept for <see cref="PostgresFanoutOptions.EventRetention"/>; a node cut off for longer closes its connections
/// (<see cref="ChatEventKind.Resync"/>) so that their clients catch up from the store.</para>
/// <para><b>Presence.</b> Each node keeps a heartbeat row (<c>fanout_nodes</c>) and its accounts' presence rows
/// (<c>fanout_presence</c>). A node whose heartbeat is older than <see cref="PostgresFanoutOptions.NodeTimeout"/> is
/// deleted with its presence rows by whichever node notices first, which publishes <see cref="ChatEventKind.NodeGone"/>.
/// A node that starts or reconnects reads the presence rows of the live nodes (<see cref="ChatEventKind.PresenceSnapshot"/>).
/// Typing and presence changes are not kept as events: they are only worth having live.</para>
/// <para><b>Metrics.</b> The <c>Tern.Chat.Fanout</c> meter counts events published, delivered and caught up,
/// reconnections and nodes given up, and shows the delivery queue and whether the node is listening.</para>
/// </remarks>
public sealed partial class PostgresChatFanout : IChatFanout, IAsyncDisposable
{
    /// <summary>PostgreSQL's NOTIFY payload limit is 8,000 bytes; the envelope around the event takes a few dozen.</summary>
    private const int MaxNotifyPayloadBytes = 7_900;

    private readonly PostgresChatDatabase _store;
    private readonly Npgsql.NpgsqlDataSource _listenerSource;
    private readonly PostgresFanoutOptions _options;
    private readonly ILogger _logger;
    private readonly object _lock = new();
    private readonly Channel<Pending> _pending = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TaskCompletionSource _firstSubscriber = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private readonly FanoutMetrics _metrics;
    private Func<ChatEvent, CancellationToken, ValueTask>[] _subscribers = [];
    private Task _listening = Task.CompletedTask;
    private Task _delivering = Task.CompletedTask;
    private int _disposed;

    private PostgresChatFanout(PostgresChatDatabase store, PostgresFanoutOptions options, ILogger logger)
    {
        _store = store;
        _options = options;
        _logger = logger;
        NodeId = Guid.NewGuid().ToString("N");
        _metrics = new FanoutMetrics(() => _pending.Reader.Count, () => IsListening);

        // Its own connection, outside the pool, named so that an operator (or a test) can tell it in pg_stat_activity.
        _listenerSource = Npgsql.NpgsqlDataSource.Create(new Npgsql.NpgsqlConnectionStringBuilder(store.ConnectionString)
        {
            ApplicationName = ListenerApplicationName(NodeId),
            Pooling = false,
        }.ConnectionString);
    }

    /// <summary>The application_name of a node's listening connection in pg_stat_activity.</summary>
    public static string ListenerApplicationName(string nodeId) => "tern-chat listener " + nodeId;

    /// <inheritdoc/>
    /// <remarks>Random for each start: a restarted process is a new node (the old one's rows expire, or were deleted when it stopped).</remarks>
    public string NodeId { get; }

    /// <summary>This fan-out's instruments.</summary>
    internal FanoutMetrics Metrics => _metrics;

    /// <summary>Whether the listening connection is up (it reconnects by itself when not).</summary>
    public bool IsListening => Volatile.Read(ref _listeningNow);

    /// <summary>
    /// Registers this node, starts listening (the first connection is made before this returns, so that a database
    /// that cannot be reached fails the start) and starts delivering once the first subscriber comes.
    /// </summary>
    /// <exception cref="Npgsql.NpgsqlException">PostgreSQL cannot be reached.</exception>
    public static async Task<PostgresChatFanout> StartAsync(PostgresChatDatabase store, PostgresFanoutOptions? options = null, ILogger<PostgresChatFanout>? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        options ??= new PostgresFanoutOptions();
        options.Validate();
        var fanout = new PostgresChatFanout(store, options, (ILogger?)logger ?? NullLogger.Instance);
        Npgsql.NpgsqlConnection first;
        try
        {
            first = await fanout.ConnectListenerAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            fanout._stopping.Dispose();
            fanout._metrics.Dispose();
            await fanout._listenerSource.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        fanout._listening = Task.Run(() => fanout.ListenAsync(first));
        fanout._delivering = Task.Run(fanout.DeliverAsync);
        return fanout;
    }

    /// <inheritdoc/>
    public async ValueTask PublishAsync(ChatEvent chatEvent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chatEvent);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        string json = JsonSerializer.Serialize(chatEvent, FanoutJson.Default.ChatEvent);
        await using Npgsql.NpgsqlConnection connection = await _store.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        if (chatEvent.Kind == ChatEventKind.Presence && chatEvent.Presence is { } presence)
        {
            // The row and the notification commit together, so a node reading the rows later and one hearing the
            // notification agree. The node row is (re)made first: it may have been given up while this node was slow.
            await using Npgsql.NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            var t = new StoreTransaction(connection, transaction);
            await t.ExecuteAsync(presence.Status == PresenceStatus.Offline
                ? "DELETE FROM fanout_presence WHERE node = @node AND account_id = @account;"
                : """
                  INSERT INTO fanout_nodes (node) VALUES (@node) ON CONFLICT (node) DO NOTHING;
                  INSERT INTO fanout_presence (node, account_id, username, status) VALUES (@node, @account, @username, @status)
                      ON CONFLICT (node, account_id) DO UPDATE SET status = excluded.status;
                  """, cancellationToken, ("@node", NodeId), ("@account", presence.AccountId), ("@username", presence.Username),
                ("@status", presence.Status)).ConfigureAwait(false);
            await NotifyAsync(t, json, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        else if (chatEvent.Kind == ChatEventKind.PresenceSnapshot && chatEvent.Node == NodeId && chatEvent.Snapshot is { } entries)
        {
            // This node's whole list replaces its rows, and the event (kept: it may be large) every node's view of it.
            await using Npgsql.NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            var t = new StoreTransaction(connection, transaction);
            await t.ExecuteAsync("""
                INSERT INTO fanout_nodes (node) VALUES (@node) ON CONFLICT (node) DO NOTHING;
                DELETE FROM fanout_presence WHERE node = @node;
                INSERT INTO fanout_presence (node, account_id, username, status)
                    SELECT @node, account, username, status FROM unnest(@accounts, @usernames, @statuses) AS e (account, username, status);
                """, cancellationToken, ("@node", NodeId), ("@accounts", entries.Select(e => e.AccountId).ToArray()),
                ("@usernames", entries.Select(e => e.Username).ToArray()), ("@statuses", entries.Select(e => e.Status).ToArray())).ConfigureAwait(false);
            await InsertAndNotifyAsync(t, json, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        else if (chatEvent.Kind == ChatEventKind.ToMembers && chatEvent.Ephemeral)
        {
            await NotifyAsync(new StoreTransaction(connection, null), json, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            // One statement is one transaction: the row and its notification commit together.
            await InsertAndNotifyAsync(new StoreTransaction(connection, null), json, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public IChatFanoutBatch Begin(long conversationId)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return new Batch(this, PostgresSharedTransaction.Join(_store.DataSource, (t, ct) => LockConversationAsync(t, conversationId, ct)));
    }

    /// <inheritdoc/>
    public IDisposable Subscribe(Func<ChatEvent, CancellationToken, ValueTask> deliver)
    {
        ArgumentNullException.ThrowIfNull(deliver);
        lock (_lock)
        {
            _subscribers = [.. _subscribers, deliver];
        }

        _firstSubscriber.TrySetResult();
        return new Subscription(this, deliver);
    }

    /// <summary>
    /// Stops listening and delivering, and leaves the cluster: the node's row and presence rows are deleted and
    /// <see cref="ChatEventKind.NodeGone"/> published, so that other nodes show its accounts offline at once.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _pending.Writer.TryComplete();
        _firstSubscriber.TrySetResult();
        await Task.WhenAll(_listening, _delivering).ConfigureAwait(false);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await LeaveAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or OperationCanceledException or TimeoutException)
        {
            _logger.LogWarning("Could not leave the cluster ({Error}); other nodes give this node up after {Timeout}", e.Message, _options.NodeTimeout);
        }

        _stopping.Dispose();
        _metrics.Dispose();
        await _listenerSource.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Deletes this node's rows and tells the others it is gone.</summary>
    private async Task LeaveAsync(CancellationToken cancellationToken)
    {
        await using Npgsql.NpgsqlConnection connection = await _store.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using Npgsql.NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var t = new StoreTransaction(connection, transaction);
        await t.ExecuteAsync("DELETE FROM fanout_nodes WHERE node = @node;", cancellationToken, ("@node", NodeId)).ConfigureAwait(false);
        await InsertAndNotifyAsync(t, NodeGoneJson(NodeId), cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string NodeGoneJson(string node) =>
        JsonSerializer.Serialize(new ChatEvent(ChatEventKind.NodeGone, 0, 0, null) { Node = node }, FanoutJson.Default.ChatEvent);

    /// <summary>The lock every change of the conversation takes first (the same the store's append takes), so they commit in turn.</summary>
    private static Task LockConversationAsync(StoreTransaction t, long conversationId, CancellationToken cancellationToken) =>
        t.ExecuteAsync("SELECT 1 FROM conversations WHERE id = @conversation FOR NO KEY UPDATE;", cancellationToken, ("@conversation", conversationId));

    /// <summary>Keeps the event as a row and notifies it, in <paramref name="t"/>'s transaction (or as one statement).</summary>
    private Task InsertAndNotifyAsync(StoreTransaction t, string eventJson, CancellationToken cancellationToken)
    {
        // The envelope is made in SQL around the new row's number; an event too large for a notification goes without its body.
        bool fits = Encoding.UTF8.GetByteCount(eventJson) <= MaxNotifyPayloadBytes;
        _metrics.Published.Add(1);
        return t.ExecuteAsync("""
            WITH kept AS (INSERT INTO fanout_events (payload) VALUES (@event) RETURNING seq)
            SELECT pg_notify(@channel, CASE WHEN @fits THEN '{"s":' || seq || ',"e":' || @event || '}' ELSE '{"s":' || seq || '}' END) FROM kept;
            """, cancellationToken, ("@event", eventJson), ("@channel", _options.Channel), ("@fits", fits));
    }

    /// <summary>Notifies an event that is not kept (it must fit).</summary>
    private Task NotifyAsync(StoreTransaction t, string eventJson, CancellationToken cancellationToken)
    {
        if (Encoding.UTF8.GetByteCount(eventJson) > MaxNotifyPayloadBytes)
        {
            throw new InvalidOperationException("An event that is not kept must fit in one notification.");
        }

        _metrics.Published.Add(1);
        return t.ExecuteAsync("SELECT pg_notify(@channel, '{\"s\":0,\"e\":' || @event || '}');", cancellationToken,
            ("@channel", _options.Channel), ("@event", eventJson));
    }

    private void Unsubscribe(Func<ChatEvent, CancellationToken, ValueTask> deliver)
    {
        lock (_lock)
        {
            _subscribers = Array.FindAll(_subscribers, s => s != deliver);
        }
    }

    private sealed class Subscription(PostgresChatFanout fanout, Func<ChatEvent, CancellationToken, ValueTask> deliver) : IDisposable
    {
        public void Dispose() => fanout.Unsubscribe(deliver);
    }

    /// <summary>A conversation's batch: the flow's shared transaction, and its events inserted and notified last, just before the commit.</summary>
    private sealed class Batch(PostgresChatFanout fanout, PostgresSharedTransaction transaction) : IChatFanoutBatch
    {
        private readonly List<string> _events = [];

        public void Add(ChatEvent chatEvent)
        {
            ArgumentNullException.ThrowIfNull(chatEvent);
            _events.Add(JsonSerializer.Serialize(chatEvent, FanoutJson.Default.ChatEvent));
        }

        public ValueTask CommitAsync(CancellationToken cancellationToken = default) =>
            new(transaction.CommitAsync(async t =>
            {
                foreach (string json in _events)
                {
                    await fanout.InsertAndNotifyAsync(t, json, cancellationToken).ConfigureAwait(false);
                }
            }, cancellationToken));

        public ValueTask DisposeAsync() => transaction.DisposeAsync();
    }
}
