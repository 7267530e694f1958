using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Tern.ChatLoad;

/// <summary>
/// One account's socket, which behaves like the page: joins the room, records every message it receives (merged by id),
/// and when its socket drops reconnects, takes its resume point when hello arrives and asks for <c>history after</c>
/// it (while <c>more</c>); a sender re-sends what was not acknowledged with the same <c>ref</c>, which the server
/// stores once.
/// </summary>
internal sealed class LoadClient
{
    private const int MaxPending = 5000;

    private readonly LoadRun _run;
    private readonly LoadAccount _account;
    private readonly Uri _firstSite;
    private readonly object _gate = new();

    // Every message of the run this client holds, by id: when it first had it (stopwatch ticks), live or from history.
    private readonly Dictionary<long, long> _held = [];
    private readonly HashSet<long> _live = [];
    private readonly Dictionary<(int Sender, int Sequence), long> _idBySent = [];
    private readonly List<double> _latencies = [];
    private readonly List<Outage> _outages = [];

    // A sender's messages without their acknowledgement yet: ref -> the say frame, re-sent after a reconnect.
    private readonly Dictionary<string, string> _pending = new(StringComparer.Ordinal);
    private readonly HashSet<int> _resent = [];
    private readonly SemaphoreSlim _window;
    private int _sequence;

    private readonly TaskCompletionSource<long> _joined = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Connection? _connection;
    private Task _supervising = Task.CompletedTask;
    private int _reconnectCursor;

    public LoadClient(LoadRun run, int index, LoadAccount account, Uri firstSite)
    {
        _run = run;
        Index = index;
        _account = account;
        _firstSite = firstSite;
        _window = new SemaphoreSlim(run.Options.Window);
        _reconnectCursor = index;
    }

    public int Index { get; }

    /// <summary>A message id received live twice on one socket (a bug: merging by id would hide it from a person, not from this count).</summary>
    public int LiveDuplicates { get; private set; }

    /// <summary>Messages received live on a new socket after arriving live on the one before (merged by id).</summary>
    public int Redelivered { get; private set; }

    /// <summary>A live message with an id not above the previous live one on the same socket.</summary>
    public int OrderViolations { get; private set; }

    /// <summary>One sent message (sender, number) held under two ids: a re-send stored twice.</summary>
    public int StoredDuplicates { get; private set; }

    /// <summary>Messages received both live and in a resume page (merged by id; expected around a reconnect).</summary>
    public int Overlaps { get; private set; }

    /// <summary>Error events; the first one's text.</summary>
    public int Errors { get; private set; }

    public string? FirstError { get; private set; }

    /// <summary>Messages of the measured window this client received live, and their latencies (ms).</summary>
    public int MeasuredDeliveries { get; private set; }

    public int Connections { get; private set; }

    /// <summary>Reconnection attempts that failed (refused, timed out, or closed before hello), and the last one's reason.</summary>
    public int FailedReconnects { get; private set; }

    public string? LastReconnectError { get; private set; }

    public IReadOnlyList<double> Latencies => _latencies;

    public IReadOnlyList<Outage> Outages => _outages;

    /// <summary>Connects to its first site and waits for hello.</summary>
    public async Task ConnectAsync()
    {
        _connection = await OpenAsync(_firstSite);
        _supervising = SuperviseAsync();
    }

    /// <summary>Joins the run's room and returns its conversation id.</summary>
    public async Task<long> JoinAsync()
    {
        await SendAsync(_connection!, $$"""{"type":"join","room":"{{_run.Room}}","ref":"join"}""");
        return await _joined.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// Sends until <paramref name="until"/> (stopwatch ticks): closed loop (at most the window unacknowledged) when
    /// <paramref name="rate"/> is 0, else that many messages a second.
    /// </summary>
    public async Task SendAsync(long until, double rate)
    {
        long interval = rate > 0 ? (long)(System.Diagnostics.Stopwatch.Frequency / rate) : 0;
        long next = LoadRun.Now;
        while (LoadRun.Now < until)
        {
            if (interval == 0)
            {
                double remaining = LoadRun.Milliseconds(until - LoadRun.Now);
                if (remaining <= 0 || !await _window.WaitAsync(TimeSpan.FromMilliseconds(remaining)))
                {
                    break;
                }
            }
            else
            {
                long wait = next - LoadRun.Now;
                if (wait > 0)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(1, LoadRun.Milliseconds(wait))));
                    continue;
                }

                next += interval;
                lock (_gate)
                {
                    if (_pending.Count >= MaxPending)
                    {
                        continue;
                    }
                }
            }

            int sequence = ++_sequence;
            long sent = LoadRun.Now;
            string frame = $$"""{"type":"say","conversation":{{_run.Conversation}},"text":"{{_run.MessageText(Index, sequence, sent)}}","ref":"{{Ref(sequence)}}"}""";
            Connection? connection;
            lock (_gate)
            {
                _pending[Ref(sequence)] = frame;
                connection = _connection;
            }

            // When the socket is down the frame stays pending: the reconnect sends it again.
            if (connection is not null)
            {
                await TrySendAsync(connection, frame);
            }
        }
    }

    public int PendingCount
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>Whether this client holds every one of <paramref name="ids"/>.</summary>
    public bool HoldsAll(ICollection<long> ids)
    {
        lock (_gate)
        {
            return ids.All(_held.ContainsKey);
        }
    }

    /// <summary>When it first held message <paramref name="id"/> (stopwatch ticks), or null.</summary>
    public long? HeldSince(long id)
    {
        lock (_gate)
        {
            return _held.TryGetValue(id, out long ticks) ? ticks : null;
        }
    }

    /// <summary>Closes the socket (a clean close, briefly) and stops reconnecting.</summary>
    public async Task CloseAsync()
    {
        Connection? connection = _connection;
        if (connection is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await connection.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
                await connection.Receiving.WaitAsync(timeout.Token);
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or TimeoutException)
            {
                // A socket that does not close in time is dropped: the run is over.
            }

            connection.Socket.Abort();
            connection.Socket.Dispose();
        }

        await _supervising.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private string Ref(int sequence) => $"{_run.Tag}-{sequence}";

    private async Task<Connection> OpenAsync(Uri site)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Origin", site.GetLeftPart(UriPartial.Authority));
        socket.Options.SetRequestHeader("Cookie", $"tern_session={_account.SessionToken}");
        var connection = new Connection(socket);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            var chat = new UriBuilder(site) { Scheme = site.Scheme == "https" ? "wss" : "ws", Path = "/chat" }.Uri;
            await socket.ConnectAsync(chat, timeout.Token);
            connection.Receiving = ReceiveAsync(connection);
            await connection.Hello.Task.WaitAsync(timeout.Token);
            Connections++;
            return connection;
        }
        catch
        {
            socket.Abort();
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Waits for the socket to drop, then reconnects (rotating over the reconnect addresses) and resumes.</summary>
    private async Task SuperviseAsync()
    {
        CancellationToken stopping = _run.Stopping.Token;
        while (true)
        {
            Connection lost = _connection!;
            await lost.Receiving.ContinueWith(_ => { }, TaskScheduler.Default);
            if (stopping.IsCancellationRequested)
            {
                return;
            }

            long lostAt = LoadRun.Now;
            lost.Socket.Dispose();
            lock (_gate)
            {
                _connection = null;
            }

            IReadOnlyList<Uri> sites = _run.Options.ReconnectTargets;
            TimeSpan delay = TimeSpan.FromMilliseconds(50);
            Connection? next = null;
            while (next is null)
            {
                if (stopping.IsCancellationRequested)
                {
                    return;
                }

                Uri site = sites[++_reconnectCursor % sites.Count];
                try
                {
                    next = await OpenAsync(site);
                }
                catch (Exception e) when (e is WebSocketException or OperationCanceledException or TimeoutException or HttpRequestException)
                {
                    lock (_gate)
                    {
                        FailedReconnects++;
                        LastReconnectError = e.Message;
                    }

                    // Like the page: try again soon, a little later each time (here at most 1 s: the run is short).
                    await Task.Delay(delay, CancellationToken.None);
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
                }
            }

            string[] unacknowledged;
            lock (_gate)
            {
                _connection = next;
                _outages.Add(new Outage(lostAt, next.HelloTicks));
                unacknowledged = [.. _pending.Values];
                foreach (string frame in unacknowledged)
                {
                    _resent.Add(SequenceOfFrame(frame));
                }
            }

            await TrySendAsync(next, HistoryAfter(next.ResumeAfter));
            foreach (string frame in unacknowledged)
            {
                await TrySendAsync(next, frame);
            }
        }
    }

    private string HistoryAfter(long after) =>
        $$"""{"type":"history","conversation":{{_run.Conversation}},"after":{{after}},"ref":"resume"}""";

    private int SequenceOfFrame(string frame)
    {
        string marker = $"\"ref\":\"{_run.Tag}-";
        int start = frame.LastIndexOf(marker, StringComparison.Ordinal) + marker.Length;
        return int.Parse(frame.AsSpan(start, frame.IndexOf('"', start) - start));
    }

    private async Task ReceiveAsync(Connection connection)
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (length == buffer.Length)
                    {
                        Array.Resize(ref buffer, buffer.Length * 2);
                    }

                    result = await connection.Socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                    length += result.Count;
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                using JsonDocument document = JsonDocument.Parse(buffer.AsMemory(0, length));
                await HandleAsync(connection, document.RootElement);
            }
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The socket dropped (a killed node, or the end of the run): the supervisor takes it from here.
        }
        finally
        {
            connection.Hello.TrySetException(new WebSocketException("The socket closed before hello."));
        }
    }

    private async Task HandleAsync(Connection connection, JsonElement frame)
    {
        switch (frame.GetProperty("type").GetString())
        {
            case "hello":
                lock (_gate)
                {
                    // Like the page, the resume point is taken when hello arrives: what comes after it comes live.
                    connection.ResumeAfter = _held.Count > 0 ? _held.Keys.Max() : 0;
                    connection.HelloTicks = LoadRun.Now;
                }

                connection.Hello.TrySetResult();
                break;
            case "joined":
                _joined.TrySetResult(frame.GetProperty("conversation").GetProperty("id").GetInt64());
                break;
            case "message":
                Take(connection, frame, live: true);
                break;
            case "history":
                long newest = 0;
                foreach (JsonElement message in frame.GetProperty("messages").EnumerateArray())
                {
                    newest = Math.Max(newest, message.GetProperty("id").GetInt64());
                    Take(connection, message, live: false);
                }

                if (frame.TryGetProperty("more", out JsonElement more) && more.GetBoolean() && newest > 0)
                {
                    await TrySendAsync(connection, HistoryAfter(newest));
                }

                break;
            case "error":
                string text = frame.GetRawText();
                lock (_gate)
                {
                    Errors++;
                    FirstError ??= text;
                    if (frame.TryGetProperty("ref", out JsonElement errorRef) && errorRef.GetString() is { } refused
                        && _pending.Remove(refused))
                    {
                        _window.Release();
                    }
                }

                break;
        }
    }

    private void Take(Connection connection, JsonElement message, bool live)
    {
        if (message.GetProperty("conversation").GetInt64() != _run.Conversation
            || !message.TryGetProperty("text", out JsonElement textElement)
            || !_run.TryReadText(textElement.GetString() ?? "", out int sender, out int sequence, out long sentTicks))
        {
            return;
        }

        long id = message.GetProperty("id").GetInt64();
        long now = LoadRun.Now;
        lock (_gate)
        {
            bool ownResent = sender == Index && _resent.Contains(sequence);
            if (sender == Index && _pending.Remove(Ref(sequence)))
            {
                _run.Acks[id] = new Acknowledged(sender, sequence, sentTicks, now);
                _window.Release();
            }

            if (_idBySent.TryGetValue((sender, sequence), out long knownId) && knownId != id)
            {
                StoredDuplicates++;
            }

            _idBySent[(sender, sequence)] = id;
            bool isNew = _held.TryAdd(id, now);
            if (!live)
            {
                if (!isNew)
                {
                    Overlaps++;
                }

                return;
            }

            // The answer to a re-send is the stored message, sent to this socket alone: it may be old news here.
            if (ownResent)
            {
                _live.Add(id);
                connection.LiveIds.Add(id);
                return;
            }

            if (!connection.LiveIds.Add(id))
            {
                LiveDuplicates++;
            }
            else if (!_live.Add(id))
            {
                // Live on the socket before too: the node this client reconnected to delivered an event committed
                // before its hello. Merged by id like a resume page's overlap; only a second delivery on one socket is wrong.
                Redelivered++;
            }
            else if (!isNew)
            {
                Overlaps++;
            }

            if (id <= connection.LastLiveId)
            {
                OrderViolations++;
            }

            connection.LastLiveId = Math.Max(connection.LastLiveId, id);
            if (isNew && _run.IsMeasured(sentTicks))
            {
                MeasuredDeliveries++;
                _latencies.Add(LoadRun.Milliseconds(now - sentTicks));
            }
        }
    }

    private static async Task SendAsync(Connection connection, string frame)
    {
        await connection.Sending.WaitAsync();
        try
        {
            await connection.Socket.SendAsync(Encoding.UTF8.GetBytes(frame), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            connection.Sending.Release();
        }
    }

    private static async Task<bool> TrySendAsync(Connection connection, string frame)
    {
        try
        {
            await SendAsync(connection, frame);
            return true;
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>One socket: its send lock, hello, and the ids seen live on it (for the order check).</summary>
    private sealed class Connection(ClientWebSocket socket)
    {
        public ClientWebSocket Socket { get; } = socket;

        public SemaphoreSlim Sending { get; } = new(1, 1);

        public TaskCompletionSource Hello { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Receiving { get; set; } = Task.CompletedTask;

        public long ResumeAfter { get; set; }

        public long HelloTicks { get; set; }

        public long LastLiveId { get; set; }

        public HashSet<long> LiveIds { get; } = [];
    }
}

/// <summary>A socket that dropped (stopwatch ticks) and the hello of the one that replaced it.</summary>
internal readonly record struct Outage(long Lost, long Back);
