using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using System.Text;
using Tern.Diagnostics;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Diagnostics;

/// <summary>
/// The <c>Tern</c> meter, read with a <see cref="MeterListener"/> on this test's server alone while real clients talk to it
/// over loopback.
/// </summary>
public sealed class MetricsTests
{
    [Fact]
    public async Task Connections_messages_bytes_and_close_codes_are_counted_both_ways()
    {
        await using TestServer server = await TestServer.StartAsync(s =>
        {
            s.Map("/close", async (connection, ct) =>
            {
                // The server starts this close; the client answers it.
                await connection.CloseAsync((WebSocketCloseCode)4001, "bye", ct);
            });
            TestServer.MapEcho(s);
        });
        using var metrics = new MetricsRecorder(server.Server.Metrics.Meter);
        Assert.Equal(TernMetrics.MeterName, server.Server.Metrics.Meter.Name);

        using ClientWebSocket first = await server.ConnectClientAsync("/echo");
        using ClientWebSocket second = await server.ConnectClientAsync("/echo");
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 2, because: "both connections are open");
        Assert.Equal(2, metrics.Observe("tern.connections.active"));
        Assert.Equal(2, metrics.Observe("tern.connections.held"));
        Assert.Equal(2, metrics.Total("tern.connections.accepted"));
        Assert.Equal(2, metrics.Total("tern.connections.opened"));

        for (int i = 0; i < 3; i++)
        {
            await first.SendAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text, true, CancellationToken.None);
            Assert.Equal("hello", Encoding.UTF8.GetString((await first.ReceiveMessageAsync()).Data));
        }

        for (int i = 0; i < 2; i++)
        {
            await second.SendAsync(new byte[1000], WebSocketMessageType.Binary, true, CancellationToken.None);
            Assert.Equal(1000, (await second.ReceiveMessageAsync()).Data.Length);
        }

        // Every echo arrived, so both directions are recorded (a send is counted when queued, before it goes out).
        foreach (string direction in new[] { "received", "sent" })
        {
            Assert.Equal(3, metrics.Total($"tern.messages.{direction}", "type=text"));
            Assert.Equal(2, metrics.Total($"tern.messages.{direction}", "type=binary"));
            Assert.Equal(15, metrics.Total($"tern.bytes.{direction}", "type=text"));
            Assert.Equal(2000, metrics.Total($"tern.bytes.{direction}", "type=binary"));
        }

        // The client closes with 4000: received, and echoed back by the server.
        await first.CloseAsync((WebSocketCloseStatus)4000, "done", CancellationToken.None);
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 1, because: "the closed connection leaves");
        Assert.Equal(1, metrics.Total("tern.closes.received", "websocket.close.code=4000"));
        Assert.Equal(1, metrics.Total("tern.closes.sent", "websocket.close.code=4000"));
        Assert.Equal(1, metrics.Observe("tern.connections.active"));

        // The server closes with 4001; the client echoes it.
        using ClientWebSocket third = await server.ConnectClientAsync("/close");
        (WebSocketMessageType type, _) = await third.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal((WebSocketCloseStatus)4001, third.CloseStatus);
        await third.CloseOutputAsync((WebSocketCloseStatus)4001, null, CancellationToken.None);
        await TestServer.WaitUntilAsync(() => metrics.Total("tern.closes.received") == 2, because: "the server reads the client's answer");
        Assert.Equal(1, metrics.Total("tern.closes.sent", "websocket.close.code=4001"));
        Assert.Equal(1, metrics.Total("tern.closes.received", "websocket.close.code=4001"));
        Assert.Equal(["websocket.close.code=4000", "websocket.close.code=4001"], metrics.TagSets("tern.closes.sent"));
        Assert.Equal(3, metrics.Total("tern.connections.accepted"));
        Assert.Equal(0, metrics.Total("tern.handshake.failures"));
        Assert.Equal(0, metrics.Observe("tern.accept.backoffs"));
    }

    [Fact]
    public async Task A_broadcast_counts_one_message_per_receiver_with_its_payload_bytes()
    {
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, ct) =>
        {
            await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
            {
            }
        }));
        using var metrics = new MetricsRecorder(server.Server.Metrics.Meter);
        await using RawPeer first = await RawPeer.ConnectWebSocketAsync(server.Port);
        await using RawPeer second = await RawPeer.ConnectWebSocketAsync(server.Port);
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 2, because: "both connections are open");

        // Payloads for each of the three header lengths of a server frame (2, 4 and 10 bytes).
        await server.Server.BroadcastTextAsync("hi");
        await server.Server.BroadcastBinaryAsync(new byte[300]);
        await server.Server.BroadcastBinaryAsync(new byte[70_000]);

        Assert.Equal(2, metrics.Total("tern.messages.sent", "type=text"));
        Assert.Equal(4, metrics.Total("tern.bytes.sent", "type=text"));
        Assert.Equal(4, metrics.Total("tern.messages.sent", "type=binary"));
        Assert.Equal(2 * (300 + 70_000), metrics.Total("tern.bytes.sent", "type=binary"));
        foreach (RawPeer peer in new[] { first, second })
        {
            Assert.Equal(2, (await peer.ReadFrameAsync())!.Value.Payload.Length);
            Assert.Equal(300, (await peer.ReadFrameAsync())!.Value.Payload.Length);
            Assert.Equal(70_000, (await peer.ReadFrameAsync())!.Value.Payload.Length);
        }
    }

    [Fact]
    public async Task Refused_handshakes_are_counted_by_status_code()
    {
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/ws", (_, _) => Task.CompletedTask));
        using var metrics = new MetricsRecorder(server.Server.Metrics.Meter);

        Assert.Equal(404, (await RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest("/nowhere"))).StatusCode);
        Assert.Equal(404, (await RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest("/elsewhere"))).StatusCode);
        Assert.Equal(426, (await RawPeer.ExchangeHttpAsync(server.Port, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")).StatusCode);
        Assert.Equal(400, (await RawPeer.ExchangeHttpAsync(server.Port, "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")).StatusCode);

        Assert.Equal(["http.response.status_code=400", "http.response.status_code=404", "http.response.status_code=426"], metrics.TagSets("tern.handshake.failures"));
        Assert.Equal(2, metrics.Total("tern.handshake.failures", "http.response.status_code=404"));
        Assert.Equal(1, metrics.Total("tern.handshake.failures", "http.response.status_code=426"));
        Assert.Equal(1, metrics.Total("tern.handshake.failures", "http.response.status_code=400"));
        Assert.Equal(4, metrics.Total("tern.connections.accepted"));
        Assert.Equal(0, metrics.Total("tern.connections.opened"));
        Assert.Equal(0, metrics.Observe("tern.connections.refused"));
    }

    [Theory]
    [InlineData("max_connections")]
    [InlineData("max_connections_per_address")]
    public async Task Connections_over_a_limit_are_counted_as_refused_by_reason_not_as_handshake_failures(string reason)
    {
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            if (reason == "max_connections")
            {
                o.MaxConnections = 1;
            }
            else
            {
                o.MaxConnectionsPerAddress = 1;
            }
        });
        using var metrics = new MetricsRecorder(server.Server.Metrics.Meter);
        await using RawPeer holder = await RawPeer.ConnectWebSocketAsync(server.Port);

        RawHttpResponse refused = await RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest());
        Assert.Equal(503, refused.StatusCode);

        Assert.Equal(1, metrics.Observe("tern.connections.refused", $"reason={reason}"));
        Assert.Equal(1, metrics.Observe("tern.connections.refused"));
        Assert.Equal(1, metrics.Total("tern.connections.accepted"));
        Assert.Equal(0, metrics.Total("tern.handshake.failures"));
        Assert.Equal(1, metrics.Observe("tern.connections.active"));
    }

    [Theory]
    [InlineData(SlowConsumerPolicy.Drop)]
    [InlineData(SlowConsumerPolicy.Close)]
    public async Task Slow_consumer_drops_and_closes_are_counted_and_the_queue_gauge_sees_the_backlog(SlowConsumerPolicy policy)
    {
        const int messageSize = 64 * 1024;
        const long queueLimit = 256 * 1024;
        const int attempts = 400;
        var done = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, ct) =>
        {
            byte[] message = new byte[messageSize];
            for (int i = 0; i < attempts; i++)
            {
                try
                {
                    await connection.SendBinaryAsync(message, ct);
                    // Paced, so the kernel's buffers fill first and the queue grows only once they are full.
                    await Task.Delay(1, ct);
                }
                catch (WebSocketClosedException)
                {
                    done.TrySetResult(i);
                    return;
                }
            }

            done.TrySetResult(attempts);
            await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
            {
            }
        }), o =>
        {
            o.MaxSendQueueSize = queueLimit;
            o.SlowConsumerPolicy = policy;
        });
        using var metrics = new MetricsRecorder(server.Server.Metrics.Meter);
        await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port, receiveBufferSize: 4096);
        int sendsReturned = await done.Task.WaitAsync(TimeSpan.FromSeconds(20));

        long sent = metrics.Total("tern.messages.sent", "type=binary");
        if (policy == SlowConsumerPolicy.Drop)
        {
            long dropped = metrics.Total("tern.slow_consumer.actions", "action=dropped");
            Assert.Equal(attempts, sendsReturned);
            Assert.InRange(dropped, 1, attempts - 1);
            // Every send was either queued (and counted as sent) or dropped (and counted as such).
            Assert.Equal(attempts, sent + dropped);
            Assert.Equal(sent * messageSize, metrics.Total("tern.bytes.sent", "type=binary"));
            Assert.Equal(0, metrics.Total("tern.slow_consumer.actions", "action=closed"));

            // The peer reads nothing, so the backlog stays put: the gauge reads what the connection holds.
            long queued = server.Server.Connections.Single().QueuedBytes;
            Assert.InRange(queued, 1, queueLimit + messageSize + 64);
            Assert.Equal(queued, metrics.Observe("tern.send_queue.bytes"));
        }
        else
        {
            Assert.InRange(sendsReturned, 1, attempts - 1);
            Assert.Equal(1, metrics.Total("tern.slow_consumer.actions", "action=closed"));
            Assert.Equal(0, metrics.Total("tern.slow_consumer.actions", "action=dropped"));
            Assert.Equal(1, metrics.Total("tern.closes.sent", "websocket.close.code=1008"));
            // The sends before the one that closed were queued, and only they.
            Assert.Equal(sendsReturned, sent);
        }
    }

    [Fact]
    public async Task The_receive_buffer_gauge_reads_the_bytes_of_an_unfinished_message()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.MaxMessageSize = 4 * 1024 * 1024);
        using var metrics = new MetricsRecorder(server.Server.Metrics.Meter);
        await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
        Assert.Equal(0, metrics.Observe("tern.receive_buffer.bytes"));

        // The first fragment of a message that never ends: the server buffers it.
        await peer.SendFrameAsync(0x2, new byte[200_000], fin: false);
        await TestServer.WaitUntilAsync(() => server.Server.BufferedBytes >= 200_000, because: "the fragment is buffered");
        Assert.Equal(server.Server.BufferedBytes, metrics.Observe("tern.receive_buffer.bytes"));
    }

    [Fact]
    public async Task The_meter_ends_when_the_server_stops()
    {
        TestServer server = await TestServer.StartAsync();
        using var metrics = new MetricsRecorder(server.Server.Metrics.Meter);
        try
        {
            Assert.Contains("tern.messages.sent", metrics.Published);
            Assert.Empty(metrics.Completed);
        }
        finally
        {
            await server.DisposeAsync();
        }

        Assert.Equal(metrics.Published.Order(), metrics.Completed.Order());
    }

    [Fact]
    public async Task A_meter_factory_in_the_options_creates_the_meter_and_keeps_it_after_the_server_stops()
    {
        using var factory = new ListMeterFactory();
        TestServer server = await TestServer.StartAsync(options: o => o.MeterFactory = factory);
        using var metrics = new MetricsRecorder(server.Server.Metrics.Meter);
        try
        {
            Assert.Same(factory.Created.Single(), server.Server.Metrics.Meter);
            await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
            Assert.Equal(1, metrics.Total("tern.connections.opened"));
        }
        finally
        {
            await server.DisposeAsync();
        }

        // The factory owns its meters: the server leaves this one to it.
        Assert.Empty(metrics.Completed);
        factory.Dispose();
        Assert.NotEmpty(metrics.Completed);
    }

    /// <summary>An <see cref="IMeterFactory"/> that keeps the meters it made and disposes them with itself, as the host's does.</summary>
    private sealed class ListMeterFactory : IMeterFactory
    {
        public List<Meter> Created { get; } = new();

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            Created.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (Meter meter in Created)
            {
                meter.Dispose();
            }
        }
    }
}
