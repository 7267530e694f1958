using System.Net.Sockets;
using System.Security.Cryptography;
using Tern.Protocol;
using Tern.Tests.Protocol;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>
/// Pongs count against the send queue: a client that floods pings and never reads must not make the server queue
/// pongs without bound (issue 7: +1.4 GB in 10 s before). The server answers only the latest ping once pongs back up,
/// and stops reading from the client while its send queue is over the limit.
/// </summary>
public sealed class PingFloodTests
{
    private const long QueueLimit = 256 * 1024;

    [Fact]
    public async Task A_ping_flood_from_a_client_that_never_reads_queues_one_pong_at_a_time()
    {
        var opened = new TaskCompletionSource<WebSocketConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.MapFallback(async (connection, ct) =>
        {
            opened.TrySetResult(connection);
            await foreach (WebSocketMessage message in connection.ReadMessagesAsync(ct))
            {
                await connection.SendAsync(message, ct);
            }
        }), o =>
        {
            o.MaxSendQueueSize = QueueLimit;
            o.KeepAliveInterval = TimeSpan.Zero;
        });
        await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port, receiveBufferSize: 4096);
        WebSocketConnection connection = await opened.Task.WaitAsync(TimeSpan.FromSeconds(10));

        // 512 masked pings of 125 bytes per send, for 3 s, never reading a byte back.
        byte[] batch = PingBatch(512);
        long sent = 0;
        long maxQueued = 0;
        Task? stalled = null;
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        while (stopwatch.Elapsed < TimeSpan.FromSeconds(3))
        {
            // Not canceled when it stalls: a canceled send may have written part of a frame.
            Task send = peer.Socket.SendAsync(batch, SocketFlags.None);
            if (await Task.WhenAny(send, Task.Delay(TimeSpan.FromSeconds(1))) != send)
            {
                stalled = send;
                break;
            }

            await send;
            sent += batch.Length;
            maxQueued = Math.Max(maxQueued, connection.QueuedBytes);
        }

        maxQueued = Math.Max(maxQueued, connection.QueuedBytes);
        // Without the bound, every ping of the flood queued a pong: the queue grew with what was sent (1.4 GB in 10 s).
        // Now pongs queue one by one only while less than 64 KiB waits, then one at a time.
        Assert.True(sent > 4 * 1024 * 1024, $"only {sent} bytes of pings went through");
        Assert.True(maxQueued <= 64 * 1024 + 256, $"queued {maxQueued} bytes of pongs for {sent / 131} pings (limit {QueueLimit})");
        Assert.Equal(WebSocketConnectionState.Open, connection.State);

        // The client starts reading: it gets pongs, far fewer than its pings, and the connection still echoes.
        Task<int> reading = ReadPongsUntilEchoAsync(peer);
        if (stalled is not null)
        {
            await stalled.WaitAsync(TimeSpan.FromSeconds(60));
        }

        await peer.SendFrameAsync(0x1, "after the flood"u8);
        int pongs = await reading.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(pongs > 0, "no pong at all for the flood");
        Assert.True(pongs < sent / 131 / 10, $"{pongs} pongs for {sent / 131} pings");
    }

    [Fact]
    public async Task A_ping_behind_a_backlog_is_answered_once_the_client_reads_without_it_sending_more()
    {
        // The server pushes 8 MiB (more than the socket buffers hold) that the client has not read; the client pings
        // twice and then only reads. The first pong queues behind the backlog; the second ping finds it still queued,
        // so it is kept, and must be answered once the first pong leaves, with nothing more from the client to wake the
        // server's reader.
        const int Chunks = 128;
        var opened = new TaskCompletionSource<WebSocketConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.MapFallback(async (connection, ct) =>
        {
            byte[] chunk = new byte[64 * 1024];
            for (int i = 0; i < Chunks; i++)
            {
                await connection.SendBinaryAsync(chunk, ct);
            }

            opened.TrySetResult(connection);
            await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
            {
            }
        }), o => o.KeepAliveInterval = TimeSpan.Zero);
        await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port, receiveBufferSize: 4096);
        WebSocketConnection connection = await opened.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(connection.QueuedBytes > 1024 * 1024, $"the backlog is only {connection.QueuedBytes} bytes");

        await peer.SendFrameAsync(0x9, [1]);
        await peer.SendFrameAsync(0x9, [2]);

        int binary = 0;
        var pongs = new List<byte>();
        while (!pongs.Contains(2))
        {
            (byte opcode, _, byte[] payload) = (await peer.ReadFrameAsync(TimeSpan.FromSeconds(10)))!.Value;
            if (opcode == 0xA)
            {
                pongs.Add(Assert.Single(payload));
            }
            else
            {
                Assert.Equal(0x2, opcode);
                binary++;
            }
        }

        Assert.Equal(Chunks, binary);
        Assert.Equal(1, pongs[0]);
    }

    [Fact]
    public async Task Pings_are_each_answered_while_the_queue_is_short()
    {
        await using TestServer server = await TestServer.StartAsync();
        await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
        for (int i = 0; i < 50; i++)
        {
            await peer.SendFrameAsync(0x9, [(byte)i]);
        }

        for (int i = 0; i < 50; i++)
        {
            (byte opcode, _, byte[] payload) = (await peer.ReadFrameAsync())!.Value;
            Assert.Equal(0xA, opcode);
            Assert.Equal([(byte)i], payload);
        }
    }

    private static async Task<int> ReadPongsUntilEchoAsync(RawPeer peer)
    {
        int pongs = 0;
        while (true)
        {
            (byte Opcode, bool Fin, byte[] Payload)? frame = await peer.ReadFrameAsync(TimeSpan.FromSeconds(20));
            Assert.NotNull(frame);
            if (frame.Value.Opcode == 0xA)
            {
                pongs++;
                continue;
            }

            Assert.Equal(0x1, frame.Value.Opcode);
            Assert.Equal("after the flood"u8.ToArray(), frame.Value.Payload);
            return pongs;
        }
    }

    private static byte[] PingBatch(int count)
    {
        byte[] payload = RandomNumberGenerator.GetBytes(125);
        var frames = new MemoryStream();
        for (int i = 0; i < count; i++)
        {
            frames.Write(FrameBuilder.Frame(Opcode.Ping, payload));
        }

        return frames.ToArray();
    }
}
