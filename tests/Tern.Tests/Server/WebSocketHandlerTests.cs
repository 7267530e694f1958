using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Text;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>The callback style (<see cref="WebSocketHandler"/>): order, exactly-once close, errors closing with 1011.</summary>
public sealed class WebSocketHandlerTests
{
    [Fact]
    public async Task Callbacks_run_in_order_open_messages_close_and_close_runs_once()
    {
        var events = new Recorder();
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", events.Handler(onMessage: async (c, m) =>
        {
            await c.SendTextAsync("echo:" + m.GetText());
        })));
        using ClientWebSocket client = await server.ConnectClientAsync();
        foreach (string text in new[] { "a", "b", "c" })
        {
            await client.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
            (_, byte[] echo) = await client.ReceiveMessageAsync();
            Assert.Equal("echo:" + text, Encoding.UTF8.GetString(echo));
        }

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        await events.WaitForCloseAsync();
        Assert.Equal(["open", "message a", "message b", "message c", "close 1000 bye"], await events.SettledAsync());
    }

    [Fact]
    public async Task Close_runs_once_with_1006_when_the_peer_vanishes()
    {
        var events = new Recorder();
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", events.Handler()), o => o.KeepAliveInterval = TimeSpan.Zero);
        RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
        await peer.SendFrameAsync(0x1, "hi"u8);
        await TestServer.WaitUntilAsync(() => events.Count >= 2, because: "the message to arrive");
        peer.Reset();
        await events.WaitForCloseAsync();
        Assert.Equal(["open", "message hi", "close 1006"], await events.SettledAsync());
    }

    [Fact]
    public async Task A_throwing_message_callback_reports_the_error_closes_with_1011_then_runs_close_once()
    {
        var events = new Recorder();
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", events.Handler(onMessage: (c, m) =>
            m.GetText() == "boom" ? throw new InvalidOperationException("boom from the test") : Task.CompletedTask)));
        using ClientWebSocket client = await server.ConnectClientAsync();
        await client.SendAsync("fine"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        await client.SendAsync("boom"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        WebSocketReceiveResult result = await client.ReceiveAsync(new byte[256], new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, result.CloseStatus);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        await events.WaitForCloseAsync();
        string[] settled = await events.SettledAsync();
        Assert.Equal(["open", "message fine", "message boom", "error boom from the test"], settled[..4]);
        Assert.Single(settled, e => e.StartsWith("close", StringComparison.Ordinal));
        Assert.StartsWith("close", settled[^1]);
    }

    [Fact]
    public async Task A_throwing_open_callback_reports_the_error_and_closes_with_1011()
    {
        var events = new Recorder();
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", events.Handler(onOpen: _ => throw new InvalidOperationException("no entry"))));
        using ClientWebSocket client = await server.ConnectClientAsync();
        WebSocketReceiveResult result = await client.ReceiveAsync(new byte[256], new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, result.CloseStatus);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        await events.WaitForCloseAsync();
        string[] settled = await events.SettledAsync();
        Assert.Equal(["open", "error no entry"], settled[..2]);
        Assert.Single(settled, e => e.StartsWith("close", StringComparison.Ordinal));
        Assert.Equal(3, settled.Length);
    }

    [Fact]
    public async Task Closing_from_the_message_callback_completes_the_handshake_promptly()
    {
        var events = new Recorder();
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", events.Handler(onMessage: async (c, m) =>
        {
            if (m.GetText() == "quit")
            {
                await c.CloseAsync((WebSocketCloseCode)4002, "you asked");
            }
        })));
        using ClientWebSocket client = await server.ConnectClientAsync();
        await client.SendAsync("quit"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        var closing = System.Diagnostics.Stopwatch.StartNew();
        WebSocketReceiveResult result = await client.ReceiveAsync(new byte[256], new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        Assert.Equal((WebSocketCloseStatus)4002, result.CloseStatus);
        Assert.Equal("you asked", result.CloseStatusDescription);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        await events.WaitForCloseAsync();
        // The server must see our answer, not give up on it after its close timeout (5 s).
        Assert.True(closing.Elapsed < TimeSpan.FromSeconds(2), $"the close took {closing.ElapsedMilliseconds} ms");
        Assert.Equal(["open", "message quit", "close 1000"], await events.SettledAsync());
    }

    [Fact]
    public async Task Closing_from_inside_a_ReadMessagesAsync_loop_completes_the_handshake_promptly()
    {
        var closeInfo = new TaskCompletionSource<(WebSocketCloseInfo?, TimeSpan)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, ct) =>
        {
            await foreach (WebSocketMessage message in connection.ReadMessagesAsync(ct))
            {
                var closing = System.Diagnostics.Stopwatch.StartNew();
                await connection.CloseAsync((WebSocketCloseCode)4003, "from the loop", ct);
                closeInfo.TrySetResult((connection.CloseInfo, closing.Elapsed));
            }
        }));
        using ClientWebSocket client = await server.ConnectClientAsync();
        await client.SendAsync("anything"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        Assert.Equal((WebSocketCloseStatus)4003, await client.ReadUntilCloseAsync());
        (WebSocketCloseInfo? info, TimeSpan took) = await closeInfo.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(took < TimeSpan.FromSeconds(2), $"CloseAsync took {took.TotalMilliseconds:F0} ms");
        Assert.Equal(WebSocketCloseCode.NormalClosure, info?.Code);
    }

    [Fact]
    public async Task Closing_from_another_thread_while_the_loop_waits_for_data_ends_the_loop_and_returns_promptly()
    {
        var loopEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        WebSocketConnection? served = null;
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, ct) =>
        {
            Volatile.Write(ref served, connection);
            await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
            {
            }

            loopEnded.TrySetResult();
        }));
        using ClientWebSocket client = await server.ConnectClientAsync();
        Task<WebSocketCloseStatus?> clientSide = client.ReadUntilCloseAsync();
        await TestServer.WaitUntilAsync(() => Volatile.Read(ref served) is not null);
        var closing = System.Diagnostics.Stopwatch.StartNew();
        await served!.CloseAsync(WebSocketCloseCode.GoingAway, "elsewhere").WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(closing.Elapsed < TimeSpan.FromSeconds(2), $"CloseAsync took {closing.ElapsedMilliseconds} ms");
        await loopEnded.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await clientSide.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Equal(WebSocketCloseCode.NormalClosure, served.CloseInfo?.Code);
    }

    [Fact]
    public async Task Each_connection_gets_its_own_sequence_from_one_shared_handler()
    {
        var events = new Recorder();
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", events.Handler()));
        var clients = new List<ClientWebSocket>();
        for (int i = 0; i < 10; i++)
        {
            ClientWebSocket client = await server.ConnectClientAsync();
            clients.Add(client);
            await client.SendAsync(Encoding.UTF8.GetBytes($"from {i}"), WebSocketMessageType.Text, true, CancellationToken.None);
        }

        foreach (ClientWebSocket client in clients)
        {
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
            client.Dispose();
        }

        await TestServer.WaitUntilAsync(() => events.ByConnection.Count == 10 && events.ByConnection.Values.All(l => l.Any(e => e.StartsWith("close", StringComparison.Ordinal))), because: "every connection to close");
        Assert.Equal(0, events.Overlaps);
        foreach (ConcurrentQueue<string> sequence in events.ByConnection.Values)
        {
            string[] list = sequence.ToArray();
            Assert.Equal(3, list.Length);
            Assert.Equal("open", list[0]);
            Assert.StartsWith("message from ", list[1]);
            Assert.Equal("close 1000", list[2]);
        }
    }

    /// <summary>Records callbacks per connection; flags callbacks that overlap for one connection.</summary>
    private sealed class Recorder
    {
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ConcurrentDictionary<long, StrongBox<int>> _active = new();
        private int _overlaps;

        public ConcurrentDictionary<long, ConcurrentQueue<string>> ByConnection { get; } = new();

        public int Count => ByConnection.Values.Sum(q => q.Count);

        public int Overlaps => Volatile.Read(ref _overlaps);

        public WebSocketHandler Handler(Func<WebSocketConnection, Task>? onOpen = null, Func<WebSocketConnection, WebSocketMessage, Task>? onMessage = null) => new()
        {
            OnOpen = c => RecordAsync(c, "open", () => onOpen?.Invoke(c)),
            OnMessage = (c, m) => RecordAsync(c, "message " + m.GetText(), () => onMessage?.Invoke(c, m)),
            OnError = (c, e) => RecordAsync(c, "error " + e.Message, null),
            OnClose = async (c, info) =>
            {
                await RecordAsync(c, string.IsNullOrEmpty(info.Reason) || info.Code == WebSocketCloseCode.AbnormalClosure ? $"close {(int)info.Code}" : $"close {(int)info.Code} {info.Reason}", null);
                _closed.TrySetResult();
            },
        };

        public Task WaitForCloseAsync() => _closed.Task.WaitAsync(TimeSpan.FromSeconds(10));

        /// <summary>The single connection's events, after a pause that would let a second close show up.</summary>
        public async Task<string[]> SettledAsync()
        {
            await Task.Delay(200);
            Assert.Equal(0, Volatile.Read(ref _overlaps));
            return Assert.Single(ByConnection.Values).ToArray();
        }

        private async Task RecordAsync(WebSocketConnection connection, string entry, Func<Task?>? inner)
        {
            // The contract: for one connection, callbacks never overlap.
            StrongBox<int> active = _active.GetOrAdd(connection.Id, _ => new StrongBox<int>());
            if (Interlocked.Increment(ref active.Value) != 1)
            {
                Interlocked.Increment(ref _overlaps);
            }

            ByConnection.GetOrAdd(connection.Id, _ => new ConcurrentQueue<string>()).Enqueue(entry);
            try
            {
                if (inner?.Invoke() is { } task)
                {
                    await task;
                }
            }
            finally
            {
                Interlocked.Decrement(ref active.Value);
            }
        }
    }
}
