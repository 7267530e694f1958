using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Npgsql;
using Tern.Chat.Hub;
using Tern.Chat.Storage;

namespace Tern.Chat.Cluster;

// The listening connection (LISTEN, heartbeats, giving up silent nodes, catching up after a drop) and delivery.
public sealed partial class PostgresChatFanout
{
    private readonly HashSet<long> _delivered = [];
    private readonly Queue<(long Seq, long At)> _deliveredOrder = new();
    private List<Pending>? _held;
    private bool _listeningNow;
    private long _healthyAt;
    private DateTime? _healthyDbTime;
    private long _lastPrune;

    /// <summary>
    /// Something for the delivery loop: a notification's payload, a kept event read back (its number and JSON), or an
    /// event made here.
    /// </summary>
    private readonly record struct Pending(string? Notification, long Seq, string? EventJson, ChatEvent? Event)
    {
        /// <summary>Read back from the table by a catch-up, not heard live.</summary>
        public bool CaughtUp => Notification is null && EventJson is not null;
    }

    /// <summary>
    /// Opens the listening connection: LISTEN, renew this node's row, catch up on what was missed since the last good
    /// heartbeat (after a drop), and read the live nodes' presence. Notifications that arrive meanwhile are held and
    /// queued after the catch-up, so that a conversation's events keep their order.
    /// </summary>
    private async Task<NpgsqlConnection> ConnectListenerAsync(CancellationToken cancellationToken)
    {
        NpgsqlConnection connection = await _listenerSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            lock (_lock)
            {
                _held = [];
            }

            connection.Notification += (_, e) => Enqueue(new Pending(e.Payload, 0, null, null));
            var t = new StoreTransaction(connection, null);
            await t.ExecuteAsync($"LISTEN {_options.Channel};", cancellationToken).ConfigureAwait(false);
            DateTime now = await t.ScalarAsync<DateTime>("""
                INSERT INTO fanout_nodes (node) VALUES (@node) ON CONFLICT (node) DO UPDATE SET heartbeat = now() RETURNING now();
                """, cancellationToken, ("@node", NodeId)).ConfigureAwait(false);

            var queued = new List<Pending>();
            if (_healthyDbTime is { } healthy)
            {
                if (now - healthy > _options.EventRetention - _options.CatchUpMargin)
                {
                    _logger.LogWarning("The listening connection was down since {Since:O}, longer than events are kept; closing every connection so that clients catch up from the store", healthy);
                    queued.Add(new Pending(null, 0, null, new ChatEvent(ChatEventKind.Resync, 0, 0, null)));
                }
                else
                {
                    List<(long Seq, string Json)> missed = await t.QueryAsync("""
                        SELECT seq, payload FROM fanout_events WHERE created >= @since ORDER BY seq;
                        """, r => (r.GetInt64(0), r.GetString(1)), cancellationToken, ("@since", healthy - _options.CatchUpMargin)).ConfigureAwait(false);
                    queued.AddRange(missed.Select(m => new Pending(null, m.Seq, m.Json, null)));

                    // This node's presence announcements may have failed while PostgreSQL was out of reach: its hub
                    // publishes its whole list again, which corrects every node's view of it.
                    queued.Add(new Pending(null, 0, null, new ChatEvent(ChatEventKind.NodeGone, 0, 0, null) { Node = NodeId }));
                    _logger.LogInformation("Listening again; read {Count} event(s) kept since {Since:O} (those delivered already are skipped)", missed.Count, healthy - _options.CatchUpMargin);
                }
            }

            List<PresenceEntry> presence = await t.QueryAsync("""
                SELECT p.node, p.account_id, p.username, p.status FROM fanout_presence p JOIN fanout_nodes n ON n.node = p.node
                WHERE n.heartbeat > now() - @timeout;
                """, r => new PresenceEntry(r.GetString(0), r.GetInt64(1), r.GetString(2), r.GetString(3)), cancellationToken,
                ("@timeout", _options.NodeTimeout)).ConfigureAwait(false);
            queued.Add(new Pending(null, 0, null, new ChatEvent(ChatEventKind.PresenceSnapshot, 0, 0, null) { Snapshot = presence }));

            lock (_lock)
            {
                foreach (Pending item in queued)
                {
                    _pending.Writer.TryWrite(item);
                }

                foreach (Pending item in _held!)
                {
                    _pending.Writer.TryWrite(item);
                }

                _held = null;
            }

            MarkHealthy(now);
            Volatile.Write(ref _listeningNow, true);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void Enqueue(Pending item)
    {
        lock (_lock)
        {
            if (_held is not null)
            {
                _held.Add(item);
            }
            else
            {
                _pending.Writer.TryWrite(item);
            }
        }
    }

    private void MarkHealthy(DateTime dbNow)
    {
        _healthyDbTime = dbNow;
        Volatile.Write(ref _healthyAt, Stopwatch.GetTimestamp());
    }

    /// <summary>Waits for notifications; between them, heartbeats. Reconnects when the connection fails.</summary>
    private async Task ListenAsync(NpgsqlConnection connection)
    {
        CancellationToken stopping = _stopping.Token;
        TimeSpan delay = TimeSpan.Zero;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                if (connection is null)
                {
                    await Task.Delay(delay, stopping).ConfigureAwait(false);
                    connection = await ConnectListenerAsync(stopping).ConfigureAwait(false);
                    _metrics.Reconnects.Add(1);
                }

                delay = TimeSpan.Zero;
                long lastBeat = Stopwatch.GetTimestamp();
                while (!stopping.IsCancellationRequested)
                {
                    // Notifications arrive through the Notification event while this waits (or while a command runs).
                    // Whole milliseconds, at least one: Npgsql reads a timeout of 0 as "wait forever".
                    int untilBeat = (int)Math.Ceiling((_options.HeartbeatInterval - Stopwatch.GetElapsedTime(lastBeat)).TotalMilliseconds);
                    if (untilBeat > 0)
                    {
                        await connection.WaitAsync(untilBeat, stopping).ConfigureAwait(false);
                        continue;
                    }

                    await BeatAsync(connection, stopping).ConfigureAwait(false);
                    lastBeat = Stopwatch.GetTimestamp();
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is NpgsqlException or System.IO.IOException or TimeoutException or InvalidOperationException or OperationCanceledException)
            {
                Volatile.Write(ref _listeningNow, false);
                delay = delay == TimeSpan.Zero ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxReconnectDelay.Ticks));
                _logger.LogWarning("The listening connection to PostgreSQL failed ({Error}); reconnecting in {Delay} ms and catching up", e.Message, (int)delay.TotalMilliseconds);
            }

            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                connection = null!;
            }
        }

        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        Volatile.Write(ref _listeningNow, false);
    }

    /// <summary>
    /// Renews this node's row (re-making it, and announcing every account again, when the others gave this node up),
    /// gives up nodes whose heartbeat is too old, and now and then drops events older than the retention.
    /// </summary>
    private async Task BeatAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.NodeTimeout);
        var t = new StoreTransaction(connection, null);
        (DateTime now, bool existed) = (await t.QuerySingleAsync("""
            WITH old AS (SELECT node FROM fanout_nodes WHERE node = @node)
            INSERT INTO fanout_nodes (node) VALUES (@node) ON CONFLICT (node) DO UPDATE SET heartbeat = now()
            RETURNING now(), EXISTS (SELECT 1 FROM old);
            """, r => (r.GetDateTime(0), r.GetBoolean(1)), timeout.Token, ("@node", NodeId)).ConfigureAwait(false));
        MarkHealthy(now);
        if (!existed)
        {
            _logger.LogWarning("Other nodes gave this node up (no heartbeat for {Timeout}); announcing its accounts again", _options.NodeTimeout);
            Enqueue(new Pending(null, 0, null, new ChatEvent(ChatEventKind.NodeGone, 0, 0, null) { Node = NodeId }));
        }

        // Nodes silent for a heartbeat less than the timeout are given up now, so that within the timeout of a node's
        // last heartbeat its accounts are offline everywhere. Whoever deletes the row tells everyone, in the same transaction.
        await using (NpgsqlTransaction transaction = await connection.BeginTransactionAsync(timeout.Token).ConfigureAwait(false))
        {
            var tx = new StoreTransaction(connection, transaction);
            List<string> gone = await tx.QueryAsync("DELETE FROM fanout_nodes WHERE heartbeat < now() - @silence RETURNING node;",
                r => r.GetString(0), timeout.Token, ("@silence", _options.NodeTimeout - _options.HeartbeatInterval)).ConfigureAwait(false);
            foreach (string node in gone)
            {
                _logger.LogInformation("Node {Node} stopped heartbeating; its accounts are now offline on every node", node);
                _metrics.NodesGivenUp.Add(1);
                await InsertAndNotifyAsync(tx, NodeGoneJson(node), timeout.Token).ConfigureAwait(false);
            }

            await transaction.CommitAsync(timeout.Token).ConfigureAwait(false);
        }

        if (Stopwatch.GetElapsedTime(_lastPrune) > TimeSpan.FromSeconds(30))
        {
            _lastPrune = Stopwatch.GetTimestamp();
            await t.ExecuteAsync("DELETE FROM fanout_events WHERE created < now() - @retention;", timeout.Token, ("@retention", _options.EventRetention)).ConfigureAwait(false);
        }
    }

    /// <summary>Delivers queued events to the subscribers one at a time, each kept event once.</summary>
    private async Task DeliverAsync()
    {
        await _firstSubscriber.Task.ConfigureAwait(false);
        CancellationToken stopping = _stopping.Token;
        try
        {
            await foreach (Pending item in _pending.Reader.ReadAllAsync(stopping).ConfigureAwait(false))
            {
                try
                {
                    if (await ResolveAsync(item, stopping).ConfigureAwait(false) is { } chatEvent)
                    {
                        _metrics.Delivered.Add(1);
                        if (item.CaughtUp)
                        {
                            _metrics.CaughtUp.Add(1);
                        }

                        foreach (Func<ChatEvent, CancellationToken, ValueTask> deliver in Volatile.Read(ref _subscribers))
                        {
                            await deliver(chatEvent, stopping).ConfigureAwait(false);
                        }
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
                {
                    _logger.LogError(e, "Delivering an event from the fan-out failed");
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>The event to deliver, or null for one delivered already (or unreadable).</summary>
    private async ValueTask<ChatEvent?> ResolveAsync(Pending item, CancellationToken cancellationToken)
    {
        if (item.Event is not null)
        {
            return item.Event;
        }

        long seq = item.Seq;
        string? json = item.EventJson;
        if (item.Notification is not null)
        {
            FanoutEnvelope? envelope = JsonSerializer.Deserialize(item.Notification, FanoutJson.Default.FanoutEnvelope);
            if (envelope is null)
            {
                return null;
            }

            seq = envelope.Seq;
            if (envelope.Event is not null && !IsDelivered(seq))
            {
                Remember(seq);
                return envelope.Event;
            }
        }

        if (IsDelivered(seq))
        {
            return null;
        }

        if (json is null)
        {
            // Too large for its notification: read from its row.
            await using NpgsqlConnection connection = await _store.DataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            json = await new StoreTransaction(connection, null).QuerySingleAsync("SELECT payload FROM fanout_events WHERE seq = @seq;",
                r => r.GetString(0), cancellationToken, ("@seq", seq)).ConfigureAwait(false);
            if (json is null)
            {
                _logger.LogWarning("Event {Seq} was dropped before this node read it", seq);
                return null;
            }
        }

        Remember(seq);
        return JsonSerializer.Deserialize(json, FanoutJson.Default.ChatEvent);
    }

    private bool IsDelivered(long seq) => seq != 0 && _delivered.Contains(seq);

    /// <summary>
    /// Remembers a delivered kept event's number, for as long as a catch-up could read it again: numbers delivered well
    /// before the last good heartbeat (by more than the catch-up margin) are forgotten; while the connection is down
    /// nothing is, however long that lasts.
    /// </summary>
    private void Remember(long seq)
    {
        if (seq == 0)
        {
            return;
        }

        long now = Stopwatch.GetTimestamp();
        _delivered.Add(seq);
        _deliveredOrder.Enqueue((seq, now));
        long keepFrom = Volatile.Read(ref _healthyAt) - (long)((_options.CatchUpMargin + _options.HeartbeatInterval * 2).TotalSeconds * Stopwatch.Frequency);
        while (_deliveredOrder.TryPeek(out (long Seq, long At) oldest) && oldest.At < keepFrom)
        {
            _deliveredOrder.Dequeue();
            _delivered.Remove(oldest.Seq);
        }
    }
}
