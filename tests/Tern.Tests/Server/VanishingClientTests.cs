using System.Collections.Concurrent;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>Clients that disappear without a closing handshake must not stay in the registry.</summary>
public sealed class VanishingClientTests
{
    [Fact]
    public async Task Connection_count_returns_to_0_after_tcp_resets()
    {
        var closes = new ConcurrentQueue<WebSocketCloseInfo?>();
        // Keepalive off: the resets alone must be noticed.
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", EchoAndRecord(closes)), o => o.KeepAliveInterval = TimeSpan.Zero);
        var peers = new List<RawPeer>();
        for (int i = 0; i < 20; i++)
        {
            peers.Add(await RawPeer.ConnectWebSocketAsync(server.Port));
        }

        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 20, because: "20 connections to open");
        // Some vanish mid-frame, some between messages.
        for (int i = 0; i < peers.Count; i += 2)
        {
            await peers[i].SendAsync([0x82, 0xFE, 0x10, 0x00, 1, 2, 3, 4, 5, 6, 7]);
        }

        foreach (RawPeer peer in peers)
        {
            peer.Reset();
        }

        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 0, seconds: 5, because: "every reset connection to be released");
        await TestServer.WaitUntilAsync(() => closes.Count == 20, seconds: 5, because: "every handler to end");
        Assert.All(closes, info => Assert.Equal(WebSocketCloseCode.AbnormalClosure, info?.Code));
    }

    [Fact]
    public async Task A_connection_whose_set_up_throws_is_dropped_released_and_reported_and_the_server_keeps_serving()
    {
        // A logging provider that fails on "connection opened", between the 101 and the handler's start.
        var log = new RecordingLoggerFactory { ThrowOnEventId = 400 };
        int handlers = 0;
        await using TestServer server = await TestServer.StartAsync(
            s => s.Map("/", async (connection, ct) =>
            {
                Interlocked.Increment(ref handlers);
                await connection.SendTextAsync("hello", ct);
            }),
            o => o.LoggerFactory = log);

        using (var client = new System.Net.WebSockets.ClientWebSocket())
        {
            // Dropped before or just after the 101 has reached the client: either way it never gets a message.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await Assert.ThrowsAnyAsync<System.Net.WebSockets.WebSocketException>(async () =>
            {
                await client.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/"), timeout.Token);
                await client.ReceiveAsync(new byte[64], timeout.Token);
            });
        }

        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 0, seconds: 5, because: "the dropped connection to leave the registry");
        Assert.Contains(log.Entries, e => e.EventId.Id == 309 && e.Level == Microsoft.Extensions.Logging.LogLevel.Error && e.Exception is InvalidOperationException);
        Assert.Equal(0, handlers);

        log.ThrowOnEventId = null;
        using var next = new System.Net.WebSockets.ClientWebSocket();
        await next.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}/"), CancellationToken.None);
        var buffer = new byte[64];
        var received = await next.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal("hello", System.Text.Encoding.UTF8.GetString(buffer, 0, received.Count));
    }

    [Fact]
    public async Task A_reset_while_the_server_is_blocked_sending_releases_the_connection()
    {
        var handlerEnded = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, ct) =>
        {
            try
            {
                // The peer never reads: the socket and then the send queue fill, and sends start to wait for room.
                byte[] chunk = new byte[256 * 1024];
                while (true)
                {
                    await connection.SendBinaryAsync(chunk, ct);
                }
            }
            catch (Exception e)
            {
                handlerEnded.TrySetResult(e);
            }
        }), o =>
        {
            o.KeepAliveInterval = TimeSpan.Zero;
            o.MaxSendQueueSize = 1024 * 1024;
        });
        RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port, receiveBufferSize: 4096);
        await TestServer.WaitUntilAsync(() => server.Server.Connections.Any(c => c.QueuedBytes > 1024 * 1024), because: "the server's sends to back up");
        peer.Reset();
        Exception? ended = await handlerEnded.Task.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(ended is OperationCanceledException or WebSocketClosedException, $"unexpected: {ended}");
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 0, seconds: 5, because: "the reset connection to be released");
    }

    [Fact]
    public async Task A_handler_that_only_sends_learns_that_its_peer_reset()
    {
        var handlerEnded = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, _) =>
        {
            try
            {
                // A ticker that pushes updates and never reads, ignoring the token: only the sends can tell it.
                while (true)
                {
                    await connection.SendTextAsync("tick", CancellationToken.None);
                    await Task.Delay(1);
                }
            }
            catch (Exception e)
            {
                handlerEnded.TrySetResult(e);
            }
        }), o => o.KeepAliveInterval = TimeSpan.Zero);
        RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
        Assert.Equal((byte)0x1, (await peer.ReadFrameAsync())?.Opcode);
        peer.Reset();
        Exception ended = await handlerEnded.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.IsType<WebSocketClosedException>(ended);
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 0, seconds: 5);
    }

    [Fact]
    public async Task A_reset_connection_leaves_the_registry_even_while_its_handler_ignores_cancellation()
    {
        var stuck = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, ct) =>
        {
            // Reads until the peer is gone, then hangs on something that ignores ct (an application bug).
            await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
            {
            }

            await stuck.Task;
        }), o => o.KeepAliveInterval = TimeSpan.Zero);
        try
        {
            RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
            await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 1);
            peer.Reset();
            await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 0, seconds: 5, because: "the dead connection to leave the registry");
            Assert.Empty(server.Server.Connections);
        }
        finally
        {
            stuck.TrySetResult();
        }
    }

    [Fact]
    public async Task Connection_count_returns_to_0_after_a_clean_tcp_close_without_a_close_frame()
    {
        var closes = new ConcurrentQueue<WebSocketCloseInfo?>();
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", EchoAndRecord(closes)), o => o.KeepAliveInterval = TimeSpan.Zero);
        RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 1);
        peer.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);
        Assert.True(await peer.WaitForServerCloseAsync(TimeSpan.FromSeconds(5)), "the server should close its side too");
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 0, seconds: 5);
        await TestServer.WaitUntilAsync(() => !closes.IsEmpty, seconds: 5, because: "the handler to end");
        Assert.Equal(WebSocketCloseCode.AbnormalClosure, Assert.Single(closes)?.Code);
        await peer.DisposeAsync();
    }

    [Fact]
    public async Task A_silent_peer_is_pinged_then_dropped_after_the_keepalive_timeout()
    {
        var closes = new ConcurrentQueue<WebSocketCloseInfo?>();
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", EchoAndRecord(closes)), o =>
        {
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
            o.KeepAliveTimeout = TimeSpan.FromMilliseconds(300);
        });
        // Completes the handshake, then never answers anything (a peer whose machine vanished behaves like this).
        // Silence counts from the last bytes the server received: the request, sent after this stopwatch starts.
        // The lower bounds allow 10 ms for Environment.TickCount64, which is coarse on Linux.
        var sinceOpen = System.Diagnostics.Stopwatch.StartNew();
        await using RawPeer silent = await RawPeer.ConnectWebSocketAsync(server.Port);
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 1);

        var ping = await silent.ReadFrameAsync(TimeSpan.FromSeconds(5));
        Assert.Equal((byte)0x9, ping?.Opcode);
        Assert.True(sinceOpen.ElapsedMilliseconds >= 190, $"pinged after {sinceOpen.ElapsedMilliseconds} ms, before the 200 ms interval");

        Assert.True(await silent.WaitForServerCloseAsync(TimeSpan.FromSeconds(5)), "the server never dropped the silent peer");
        Assert.True(sinceOpen.ElapsedMilliseconds >= 490, $"dropped after {sinceOpen.ElapsedMilliseconds} ms, before interval + timeout (500 ms)");
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 0, seconds: 5);
        await TestServer.WaitUntilAsync(() => !closes.IsEmpty, seconds: 5, because: "the handler to end");
        WebSocketCloseInfo? info = Assert.Single(closes);
        Assert.Equal(WebSocketCloseCode.AbnormalClosure, info?.Code);
        Assert.Contains("Keepalive", info?.Reason);
    }

    [Fact]
    public async Task A_peer_that_answers_pings_is_kept_while_a_silent_one_is_dropped()
    {
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(100);
            o.KeepAliveTimeout = TimeSpan.FromMilliseconds(300);
        });
        await using RawPeer silent = await RawPeer.ConnectWebSocketAsync(server.Port);
        await using RawPeer lively = await RawPeer.ConnectWebSocketAsync(server.Port);
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 2);
        var answering = Task.Run(async () =>
        {
            // Answers every ping with a pong carrying the same payload, as RFC 6455 requires, until the deadline.
            var until = DateTime.UtcNow.AddSeconds(1.5);
            int pongs = 0;
            while (DateTime.UtcNow < until)
            {
                var frame = await lively.ReadFrameAsync(TimeSpan.FromSeconds(5));
                Assert.NotNull(frame);
                if (frame.Value.Opcode == 0x9)
                {
                    await lively.SendFrameAsync(0xA, frame.Value.Payload);
                    pongs++;
                }
            }

            return pongs;
        });

        Assert.True(await silent.WaitForServerCloseAsync(TimeSpan.FromSeconds(5)), "the silent peer was not dropped");
        int pongs = await answering.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(pongs >= 3, $"only {pongs} pings in 1.5 s at a 100 ms interval");
        Assert.Equal(1, server.Server.ConnectionCount);
    }

    private static Func<WebSocketConnection, CancellationToken, Task> EchoAndRecord(ConcurrentQueue<WebSocketCloseInfo?> closes) =>
        async (connection, ct) =>
        {
            try
            {
                await foreach (WebSocketMessage message in connection.ReadMessagesAsync(ct))
                {
                    await connection.SendAsync(message, ct);
                }
            }
            finally
            {
                closes.Enqueue(connection.CloseInfo);
            }
        };
}
