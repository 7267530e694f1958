using System.Net.WebSockets;
using System.Text.Json;

namespace Tern.Chat.Tests.Support;

/// <summary>
/// A chat client that behaves like the page after a dropped connection (src/Tern.Chat/wwwroot/app.js, <c>hello</c>):
/// it reconnects on its own (100 ms doubling to 1 s, faster than the page's 0.5 s to 15 s so tests stay short), and
/// after each new <c>hello</c> asks every conversation it follows for <c>history</c> <c>after</c> the newest id it
/// holds, page by page while <c>more</c>, merging by id. A <c>say</c> is re-sent with the same <c>ref</c> on the next
/// connection when the connection dropped before its answer, as the page's outbox does.
/// <para>
/// It records every message it receives, so a test can tell gaps (<see cref="Missing"/>), duplicates
/// (<see cref="Duplicates"/>: a message delivered live twice, or a resume page returning what was asked to be left
/// out) and order (<see cref="OrderViolations"/>: live messages of a conversation on one connection whose ids do not
/// grow). A message that arrives live while a resume page for the same ids is on its way is held once and counted in
/// <see cref="Overlaps"/>: the page merges those by id, as this client does.
/// </para>
/// </summary>
public sealed class ResumingChatClient : IAsyncDisposable
{
    private static readonly TimeSpan s_requestTimeout = TimeSpan.FromSeconds(15);

    private readonly ChatAccount _account;
    private readonly Uri _site;
    private readonly object _gate = new();
    private readonly Dictionary<long, HashSet<long>> _held = [];
    private readonly Dictionary<long, int> _liveDeliveries = [];
    private readonly List<(int Connection, long Conversation, long Id)> _live = [];
    private readonly List<string> _duplicates = [];
    private readonly List<string> _orderViolations = [];
    private readonly List<JsonElement> _errors = [];
    private readonly List<JsonElement> _events = [];
    private readonly HashSet<string> _resentRefs = [];
    private readonly List<TimeSpan> _outages = [];
    private readonly Dictionary<string, TaskCompletionSource<JsonElement>> _answers = [];
    private readonly CancellationTokenSource _disposing = new();
    private Connection? _current;
    private TaskCompletionSource _ready = NewSignal();
    private TaskCompletionSource _changed = NewSignal();
    private Task _supervising = Task.CompletedTask;
    private int _connections;
    private int _overlaps;
    private int _storedAnswers;

    private ResumingChatClient(ChatAccount account, Uri site)
    {
        _account = account;
        _site = site;
    }

    public string Username => _account.Username;

    /// <summary>How many connections it has opened (1 until the first reconnect).</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>The node the current connection reached: nginx's <c>X-Tern-Node</c> header, or the site's own address.</summary>
    public string? Node => _current?.Node;

    /// <summary>Messages that were delivered twice (see the class summary), described.</summary>
    public IReadOnlyList<string> Duplicates => Locked(() => _duplicates.ToArray());

    /// <summary>Live messages that arrived out of id order on one connection, described.</summary>
    public IReadOnlyList<string> OrderViolations => Locked(() => _orderViolations.ToArray());

    /// <summary>Messages that came live while the resume page holding them was on its way (merged by id, not an error).</summary>
    public int Overlaps => Volatile.Read(ref _overlaps);

    /// <summary>
    /// Re-sent messages the server answered with the copy it had stored already (the first attempt was stored, its
    /// answer lost with the connection): an answer to this client, not a live delivery.
    /// </summary>
    public int StoredAnswers => Volatile.Read(ref _storedAnswers);

    /// <summary>Every error the server sent.</summary>
    public IReadOnlyList<JsonElement> Errors => Locked(() => _errors.ToArray());

    /// <summary>For each reconnect: from noticing the drop to holding everything the resume pages returned.</summary>
    public IReadOnlyList<TimeSpan> Outages => Locked(() => _outages.ToArray());

    /// <summary>Connects (waiting for hello) and keeps reconnecting whenever the connection drops, until disposed.</summary>
    public static async Task<ResumingChatClient> ConnectAsync(ChatAccount account, Uri site)
    {
        var client = new ResumingChatClient(account, site);
        try
        {
            client._current = await client.ConnectOnceAsync();
            client._ready.TrySetResult();
            client._supervising = client.SuperviseAsync();
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Joins a room and follows it; returns its id.</summary>
    public async Task<long> JoinAsync(string room)
    {
        JsonElement answer = await RequestAsync(new { type = "join", room, @ref = NewRef() }, "join");
        Assert.True(answer.Str("type") == "joined", $"{Username} could not join {room}: {answer.GetRawText()}");
        long id = answer.GetProperty("conversation").Long("id");
        Follow(id);
        return id;
    }

    /// <summary>Follows a conversation: resumed after every reconnect, even before it holds any message of it.</summary>
    public void Follow(long conversation)
    {
        lock (_gate)
        {
            _held.TryAdd(conversation, []);
        }
    }

    /// <summary>
    /// Posts a message like the page's outbox: sends it, and when the connection drops before the answer, sends it
    /// again with the same ref on the next connection. Returns the server's answer: the stored <c>message</c>
    /// (acknowledged) or an <c>error</c>.
    /// </summary>
    public async Task<JsonElement> SayAsync(long conversation, string text, TimeSpan? timeout = null)
    {
        string clientRef = NewRef();
        TaskCompletionSource<JsonElement> answer = Expect(clientRef);
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            for (int attempt = 0; ; attempt++)
            {
                Connection connection = await ReadyConnectionAsync(deadline.Token);
                if (attempt > 0)
                {
                    lock (_gate)
                    {
                        _resentRefs.Add(clientRef);
                    }
                }

                if (await connection.TrySendAsync(new { type = "say", conversation, text, @ref = clientRef }))
                {
                    Task finished = await Task.WhenAny(answer.Task, connection.Closed, Task.Delay(Timeout.Infinite, deadline.Token));
                    if (finished == answer.Task)
                    {
                        return await answer.Task;
                    }
                }

                deadline.Token.ThrowIfCancellationRequested();
                // Dropped before the answer: the next connection gets the same ref (stored once by the server).
                await Task.Delay(20, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            Assert.Fail($"{Username}'s message '{text}' got no answer in time (connection {Connections}). Errors: {string.Join(" ", Errors.Select(e => e.GetRawText()))}");
            throw;
        }
        finally
        {
            Forget(clientRef);
        }
    }

    /// <summary>The ids this client holds in a conversation (live and from history), in order.</summary>
    public IReadOnlyList<long> HeldIds(long conversation) =>
        Locked(() => _held.TryGetValue(conversation, out HashSet<long>? ids) ? ids.Order().ToArray() : []);

    /// <summary>The ids of live messages of a conversation in the order they arrived, over every connection.</summary>
    public IReadOnlyList<long> LiveIds(long conversation) =>
        Locked(() => _live.Where(m => m.Conversation == conversation).Select(m => m.Id).ToArray());

    /// <summary>Of <paramref name="expected"/>, the ids this client does not hold.</summary>
    public IReadOnlyList<long> Missing(long conversation, IEnumerable<long> expected)
    {
        IReadOnlyList<long> held = HeldIds(conversation);
        return expected.Except(held).Order().ToArray();
    }

    /// <summary>Waits until the client holds every id of <paramref name="expected"/>; fails with what is missing.</summary>
    public async Task WaitUntilHoldsAsync(long conversation, IEnumerable<long> expected, TimeSpan? timeout = null)
    {
        long[] wanted = expected.ToArray();
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                changed = _changed.Task;
            }

            IReadOnlyList<long> missing = Missing(conversation, wanted);
            if (missing.Count == 0)
            {
                return;
            }

            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                Assert.Fail($"{Username} (connection {Connections}, node {Node}) misses {missing.Count} of {wanted.Length} messages of conversation {conversation}: {string.Join(",", missing.Take(20))}");
            }

            await Task.WhenAny(changed, Task.Delay(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1)));
        }
    }

    /// <summary>Every message of a conversation as the store has it, read page by page from the start (the truth to compare with).</summary>
    public async Task<IReadOnlyList<JsonElement>> ReadWholeHistoryAsync(long conversation)
    {
        var messages = new List<JsonElement>();
        long after = 0;
        while (true)
        {
            JsonElement page = await RequestAsync(new { type = "history", conversation, after, @ref = NewRef() }, "history");
            Assert.True(page.Str("type") == "history", $"history of {conversation}: {page.GetRawText()}");
            messages.AddRange(page.GetProperty("messages").EnumerateArray());
            if (!page.GetProperty("more").GetBoolean() || messages.Count == 0)
            {
                return messages;
            }

            after = messages[^1].Long("id");
        }
    }

    /// <summary>
    /// Waits for a server message other than <c>message</c> and <c>error</c> (presence, typing, joined…), received on
    /// any connection, already or within <paramref name="timeout"/>; fails with what did arrive.
    /// </summary>
    public async Task<JsonElement> WaitForEventAsync(string type, Func<JsonElement, bool> predicate, TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            Task changed;
            JsonElement[] events;
            lock (_gate)
            {
                changed = _changed.Task;
                events = [.. _events];
            }

            foreach (JsonElement candidate in events)
            {
                if (candidate.Str("type") == type && predicate(candidate))
                {
                    return candidate;
                }
            }

            TimeSpan left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                Assert.Fail($"{Username} got no such '{type}' in time; its '{type}' messages: {string.Join(" ", events.Where(e => e.Str("type") == type).Select(e => e.GetRawText()))}");
            }

            await Task.WhenAny(changed, Task.Delay(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1)));
        }
    }

    /// <summary>Drops the current connection without a closing handshake (a lost network); the client reconnects.</summary>
    public void Drop() => _current?.Abort();

    /// <summary>Waits until the client has opened at least <paramref name="count"/> connections and resumed on the last.</summary>
    public async Task WaitForConnectionAsync(int count, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (Connections < count || !_ready.Task.IsCompleted)
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"{Username} did not reconnect in time: {Connections} connection(s) of {count}.");
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _disposing.CancelAsync();
        _current?.Abort();
        await _supervising.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { }, TaskScheduler.Default);
        if (_current is not null)
        {
            await _current.DisposeAsync();
        }

        _disposing.Dispose();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private static string NewRef() => Guid.NewGuid().ToString("N")[..16];

    private T Locked<T>(Func<T> read)
    {
        lock (_gate)
        {
            return read();
        }
    }

    /// <summary>A request on the current connection, answered by the message carrying its ref (or an error).</summary>
    private async Task<JsonElement> RequestAsync(object request, string what)
    {
        string clientRef = (string)request.GetType().GetProperty("ref")!.GetValue(request)!;
        TaskCompletionSource<JsonElement> answer = Expect(clientRef);
        try
        {
            using var deadline = new CancellationTokenSource(s_requestTimeout);
            Connection connection = await ReadyConnectionAsync(deadline.Token);
            Assert.True(await connection.TrySendAsync(request), $"{Username}'s connection closed before the {what} request went out.");
            return await answer.Task.WaitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"{Username}'s {what} request got no answer in time.");
            throw;
        }
        finally
        {
            Forget(clientRef);
        }
    }

    private TaskCompletionSource<JsonElement> Expect(string clientRef)
    {
        var answer = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _answers[clientRef] = answer;
        }

        return answer;
    }

    private void Forget(string clientRef)
    {
        lock (_gate)
        {
            _answers.Remove(clientRef);
        }
    }

    private async Task<Connection> ReadyConnectionAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task ready;
            lock (_gate)
            {
                ready = _ready.Task;
            }

            await ready.WaitAsync(cancellationToken);
            Connection? connection = _current;
            if (connection is not null && !connection.Closed.IsCompleted)
            {
                return connection;
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    /// <summary>Waits for the connection to drop, then reconnects (with backoff) and resumes, until disposed.</summary>
    private async Task SuperviseAsync()
    {
        CancellationToken stopping = _disposing.Token;
        while (!stopping.IsCancellationRequested)
        {
            Connection lost = _current!;
            await lost.Closed.WaitAsync(stopping).ContinueWith(_ => { }, TaskScheduler.Default);
            if (stopping.IsCancellationRequested)
            {
                return;
            }

            DateTime noticed = DateTime.UtcNow;
            lock (_gate)
            {
                _ready = NewSignal();
            }

            TimeSpan delay = TimeSpan.FromMilliseconds(100);
            while (!stopping.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(delay, stopping);
                    Connection next = await ConnectOnceAsync();
                    await lost.DisposeAsync();
                    _current = next;
                    lock (_gate)
                    {
                        _outages.Add(DateTime.UtcNow - noticed);
                        _ready.TrySetResult();
                    }

                    break;
                }
                catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
                {
                    delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
                }
            }
        }
    }

    /// <summary>Opens a connection, waits for hello and resumes every followed conversation on it.</summary>
    private async Task<Connection> ConnectOnceAsync()
    {
        int number = Interlocked.Increment(ref _connections);
        var connection = new Connection(this, number);
        try
        {
            await connection.OpenAsync(_account, _site);
            foreach (long conversation in connection.ResumePoints.Keys)
            {
                await connection.ResumeAsync(conversation);
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private void Received(Connection connection, JsonElement message)
    {
        string? type = message.Str("type");
        lock (_gate)
        {
            if (type == "message" && IsStoredAnswer(message))
            {
                _storedAnswers++;
            }
            else if (type == "message")
            {
                long conversation = message.Long("conversation");
                long id = message.Long("id");
                _live.Add((connection.Number, conversation, id));
                int deliveries = _liveDeliveries[id] = _liveDeliveries.GetValueOrDefault(id) + 1;
                if (deliveries > 1)
                {
                    _duplicates.Add($"message {id} of conversation {conversation} arrived live {deliveries} times (the last on connection {connection.Number})");
                }

                if (connection.LastLiveIds.TryGetValue(conversation, out long previous) && id <= previous)
                {
                    _orderViolations.Add($"message {id} arrived after {previous} in conversation {conversation} on connection {connection.Number}");
                }

                connection.LastLiveIds[conversation] = id;
                if (!_held.TryGetValue(conversation, out HashSet<long>? held))
                {
                    _held[conversation] = held = [];
                }

                if (!held.Add(id) && deliveries == 1)
                {
                    // Held already from a resume page that crossed this live message: merged by id.
                    _overlaps++;
                }
            }
            else if (type == "error")
            {
                _errors.Add(message);
            }
            else
            {
                _events.Add(message);
            }

            if (message.TryGetProperty("ref", out JsonElement clientRef) && clientRef.ValueKind == JsonValueKind.String
                && _answers.TryGetValue(clientRef.GetString()!, out TaskCompletionSource<JsonElement>? answer))
            {
                answer.TrySetResult(message);
            }

            _changed.TrySetResult();
            _changed = NewSignal();
        }
    }

    /// <summary>
    /// A message answering a say this client re-sent, whose id it holds already: the server's stored copy (it was held
    /// by the resume on this connection, which ran before the re-send went out). Called under the lock.
    /// </summary>
    private bool IsStoredAnswer(JsonElement message) =>
        message.TryGetProperty("ref", out JsonElement clientRef) && clientRef.ValueKind == JsonValueKind.String
        && _resentRefs.Contains(clientRef.GetString()!)
        && _held.TryGetValue(message.Long("conversation"), out HashSet<long>? held) && held.Contains(message.Long("id"));

    private void TakeResumePoints(Dictionary<long, long> points)
    {
        lock (_gate)
        {
            foreach ((long conversation, HashSet<long> held) in _held)
            {
                points[conversation] = held.Count > 0 ? held.Max() : 0;
            }
        }
    }

    /// <summary>Merges a resume page; what it returns at or below <paramref name="after"/> was asked to be left out.</summary>
    private long MergeResumed(long conversation, long after, JsonElement page)
    {
        long newest = after;
        lock (_gate)
        {
            HashSet<long> held = _held.TryGetValue(conversation, out HashSet<long>? existing) ? existing : _held[conversation] = [];
            foreach (JsonElement message in page.GetProperty("messages").EnumerateArray())
            {
                long id = message.Long("id");
                newest = Math.Max(newest, id);
                if (id <= after)
                {
                    _duplicates.Add($"message {id} of conversation {conversation} came in a resume page asked for after {after}");
                }
                else if (!held.Add(id))
                {
                    _overlaps++;
                }
            }

            _changed.TrySetResult();
            _changed = NewSignal();
        }

        return newest;
    }

    /// <summary>One WebSocket connection of the client and its receive loop.</summary>
    private sealed class Connection(ResumingChatClient owner, int number) : IAsyncDisposable
    {
        private readonly ClientWebSocket _socket = new();
        private readonly SemaphoreSlim _sending = new(1, 1);
        private readonly TaskCompletionSource<JsonElement> _hello = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private Task _receiving = Task.CompletedTask;

        public int Number { get; } = number;

        public string? Node { get; private set; }

        /// <summary>The last live id per conversation on this connection (under the owner's lock).</summary>
        public Dictionary<long, long> LastLiveIds { get; } = [];

        /// <summary>Completes when the receive loop has ended: the connection is gone.</summary>
        public Task Closed => _receiving;

        public async Task OpenAsync(ChatAccount account, Uri site)
        {
            _socket.Options.Cookies = account.Cookies;
            _socket.Options.SetRequestHeader("Origin", site.GetLeftPart(UriPartial.Authority));
            _socket.Options.CollectHttpResponseDetails = true;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _socket.ConnectAsync(ChatAccount.ChatSocketUrl(site), timeout.Token);
            Node = _socket.HttpResponseHeaders?.TryGetValue("X-Tern-Node", out IEnumerable<string>? node) == true ? node.First() : site.Authority;
            _receiving = ReceiveLoopAsync();
            await _hello.Task.WaitAsync(timeout.Token);
        }

        /// <summary>
        /// The newest id held in each followed conversation when hello arrived, before any live message of this
        /// connection: the page takes them in its hello handler, and a live message that came in between would
        /// otherwise hide the ones before it.
        /// </summary>
        public Dictionary<long, long> ResumePoints { get; } = [];

        /// <summary>The page's resume: history after the newest id held at hello, page by page while there is more.</summary>
        public async Task ResumeAsync(long conversation)
        {
            long after = ResumePoints.GetValueOrDefault(conversation);
            while (true)
            {
                string clientRef = NewRef();
                TaskCompletionSource<JsonElement> answer = owner.Expect(clientRef);
                try
                {
                    if (!await TrySendAsync(new { type = "history", conversation, after, @ref = clientRef }))
                    {
                        throw new WebSocketException("The connection closed while resuming.");
                    }

                    JsonElement page = await answer.Task.WaitAsync(s_requestTimeout);
                    if (page.Str("type") != "history")
                    {
                        throw new InvalidOperationException($"Resuming conversation {conversation}: {page.GetRawText()}");
                    }

                    long newest = owner.MergeResumed(conversation, after, page);
                    if (!page.GetProperty("more").GetBoolean() || newest == after)
                    {
                        return;
                    }

                    after = newest;
                }
                finally
                {
                    owner.Forget(clientRef);
                }
            }
        }

        /// <summary>Sends one JSON message; false when the connection is gone.</summary>
        public async Task<bool> TrySendAsync(object message)
        {
            byte[] bytes = JsonSerializer.SerializeToUtf8Bytes(message);
            await _sending.WaitAsync();
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
                return true;
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
            {
                return false;
            }
            finally
            {
                _sending.Release();
            }
        }

        public void Abort() => _socket.Abort();

        public async ValueTask DisposeAsync()
        {
            _socket.Abort();
            await _receiving.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
            _socket.Dispose();
            _sending.Dispose();
        }

        private async Task ReceiveLoopAsync()
        {
            byte[] buffer = new byte[64 * 1024];
            var message = new MemoryStream();
            try
            {
                while (true)
                {
                    ValueWebSocketReceiveResult result = await _socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }

                    message.Write(buffer, 0, result.Count);
                    if (!result.EndOfMessage)
                    {
                        continue;
                    }

                    JsonElement parsed;
                    using (JsonDocument document = JsonDocument.Parse(message.GetBuffer().AsMemory(0, (int)message.Length)))
                    {
                        parsed = document.RootElement.Clone();
                    }

                    message.SetLength(0);
                    if (parsed.Str("type") == "hello")
                    {
                        owner.TakeResumePoints(ResumePoints);
                        _hello.TrySetResult(parsed);
                    }

                    owner.Received(this, parsed);
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
            finally
            {
                _hello.TrySetException(new WebSocketException("The connection closed before hello."));
            }
        }
    }
}
