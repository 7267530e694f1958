using System.Diagnostics;
using System.Net.Sockets;
using System.Net.WebSockets;
using Microsoft.Extensions.Logging;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>StopAsync / DisposeAsync: stop accepting, 1001 to everyone, a bounded wait, and nothing left behind.</summary>
public sealed class ServerStopTests
{
    private static readonly TimeSpan ShutdownTimeout = TimeSpan.FromMilliseconds(500);

    // StopAsync waits at most ShutdownTimeout for the closing handshakes, then at most as long again for handlers.
    // The slack absorbs scheduling stalls of a loaded machine; "forever" is what this bound rules out.
    private static readonly TimeSpan StopBound = 2 * ShutdownTimeout + TimeSpan.FromSeconds(2);

    [Fact]
    public async Task StopAsync_returns_in_bounded_time_when_a_handler_ignores_cancellation()
    {
        var log = new RecordingLoggerFactory();
        var stuck = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, ct) =>
        {
            entered.TrySetResult();
            await stuck.Task; // ignores ct on purpose
        }), o =>
        {
            o.ShutdownTimeout = ShutdownTimeout;
            o.LoggerFactory = log;
        });
        try
        {
            using ClientWebSocket client = await server.ConnectClientAsync();
            Task<WebSocketCloseStatus?> clientClose = client.ReadUntilCloseAsync();
            await entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

            var stopping = Stopwatch.StartNew();
            await server.Server.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(stopping.Elapsed < StopBound, $"StopAsync took {stopping.ElapsedMilliseconds} ms; the bound is {StopBound.TotalMilliseconds} ms");

            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await clientClose.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(0, server.Server.ConnectionCount);
            Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("still running"));
        }
        finally
        {
            stuck.TrySetResult();
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task StopAsync_drops_a_peer_that_never_answers_the_1001_after_the_shutdown_timeout()
    {
        TestServer server = await TestServer.StartAsync(options: o => o.ShutdownTimeout = ShutdownTimeout);
        await using RawPeer deaf = await RawPeer.ConnectWebSocketAsync(server.Port);
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 1);

        var stopping = Stopwatch.StartNew();
        await server.Server.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(stopping.Elapsed < StopBound, $"StopAsync took {stopping.ElapsedMilliseconds} ms; the bound is {StopBound.TotalMilliseconds} ms");
        Assert.True(stopping.Elapsed >= ShutdownTimeout - TimeSpan.FromMilliseconds(50), $"StopAsync gave up after {stopping.ElapsedMilliseconds} ms, before the shutdown timeout");

        var close = await deaf.ReadFrameAsync();
        Assert.Equal((byte)0x8, close?.Opcode);
        Assert.Equal(1001, (close!.Value.Payload[0] << 8) | close.Value.Payload[1]);
        Assert.True(await deaf.WaitForServerCloseAsync(TimeSpan.FromSeconds(5)), "the socket stayed open after StopAsync");
        Assert.Equal(0, server.Server.ConnectionCount);
    }

    [Fact]
    public async Task StopAsync_closes_clients_that_are_busy_sending_with_1001()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.ShutdownTimeout = ShutdownTimeout);
        var clients = new List<ClientWebSocket>();
        var closes = new List<Task<WebSocketCloseStatus?>>();
        using var stopSending = new CancellationTokenSource();
        var senders = new List<Task>();
        for (int i = 0; i < 5; i++)
        {
            ClientWebSocket client = await server.ConnectClientAsync();
            clients.Add(client);
            closes.Add(client.ReadUntilCloseAsync());
            senders.Add(Task.Run(async () =>
            {
                byte[] message = new byte[1000];
                try
                {
                    while (!stopSending.IsCancellationRequested)
                    {
                        await client.SendAsync(message, WebSocketMessageType.Binary, true, stopSending.Token);
                    }
                }
                catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
                {
                    // The server closed while we were sending: expected.
                }
            }));
        }

        await Task.Delay(100);
        var stopping = Stopwatch.StartNew();
        await server.Server.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(stopping.Elapsed < StopBound, $"StopAsync took {stopping.ElapsedMilliseconds} ms");
        stopSending.Cancel();
        await Task.WhenAll(senders).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.All(await Task.WhenAll(closes).WaitAsync(TimeSpan.FromSeconds(10)), s => Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, s));
        clients.ForEach(c => c.Dispose());
    }

    [Fact]
    public async Task A_pending_handshake_does_not_hold_StopAsync_and_new_connections_are_refused_after()
    {
        TestServer server = await TestServer.StartAsync();
        int port = server.Port;
        await using RawPeer silent = await RawPeer.ConnectAsync(port); // connected, never sends its request
        await Task.Delay(50);

        var stopping = Stopwatch.StartNew();
        await server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(1), $"DisposeAsync took {stopping.ElapsedMilliseconds} ms with one silent handshake pending");
        Assert.True(await silent.WaitForServerCloseAsync(TimeSpan.FromSeconds(5)), "the pending handshake's socket stayed open");

        using var refused = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        SocketException error = await Assert.ThrowsAsync<SocketException>(async () => await refused.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port)));
        Assert.True(error.SocketErrorCode == SocketError.ConnectionRefused, $"expected ConnectionRefused, got {error.SocketErrorCode}: {error.Message}");
    }

    [Fact]
    public async Task StopAsync_is_idempotent_and_dispose_without_start_is_harmless()
    {
        await new WebSocketServer().DisposeAsync();

        TestServer server = await TestServer.StartAsync();
        using ClientWebSocket client = await server.ConnectClientAsync();
        Task<WebSocketCloseStatus?> clientClose = client.ReadUntilCloseAsync();
        Task first = server.Server.StopAsync();
        Task second = server.Server.StopAsync();
        Assert.Same(first, second);
        await first.WaitAsync(TimeSpan.FromSeconds(10));
        await server.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await clientClose.WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
