using System.Buffers.Binary;
using System.Net.WebSockets;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>The per-connection send queue: exact accounting, and sends that wait (bounded memory) for a slow reader.</summary>
public sealed class SendQueueTests
{
    [Fact]
    public async Task The_queue_count_returns_to_0_once_large_messages_are_delivered()
    {
        var sent = new TaskCompletionSource<WebSocketConnection>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, ct) =>
        {
            byte[] message = new byte[256 * 1024];
            for (int i = 0; i < 40; i++)
            {
                await connection.SendBinaryAsync(message, ct);
            }

            sent.TrySetResult(connection);
            await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
            {
            }
        }), o => o.MaxSendQueueSize = 1024 * 1024);
        using ClientWebSocket client = await server.ConnectClientAsync();
        for (int i = 0; i < 40; i++)
        {
            Assert.Equal(256 * 1024, (await client.ReceiveMessageAsync()).Data.Length);
        }

        WebSocketConnection connection = await sent.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // 10 MiB went through a 1 MiB queue; every byte handed to the socket must be subtracted again.
        await TestServer.WaitUntilAsync(() => connection.QueuedBytes == 0, seconds: 5, because: $"the queue to drain (still {connection.QueuedBytes} bytes)");
    }

    [Fact]
    public async Task Sends_wait_while_the_peer_does_not_read_and_resume_when_it_does()
    {
        const int MessageSize = 64 * 1024;
        const int MessageCount = 200;
        const long QueueLimit = 256 * 1024;
        int completedSends = 0;
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, ct) =>
        {
            byte[] message = new byte[MessageSize];
            for (int i = 0; i < MessageCount; i++)
            {
                BinaryPrimitives.WriteInt32BigEndian(message, i);
                await connection.SendBinaryAsync(message, ct);
                Interlocked.Increment(ref completedSends);
            }

            await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
            {
            }
        }), o => o.MaxSendQueueSize = QueueLimit);
        await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port, receiveBufferSize: 4096);

        // Not reading: the kernel buffers fill, then the queue, then sends wait.
        int stalledAt = await WaitForStallAsync(() => Volatile.Read(ref completedSends));
        Assert.True(stalledAt < MessageCount, $"all {MessageCount} sends completed although the peer read nothing");
        // The waiting send has queued its frame and waits for the queue to fall back under the limit: memory stays
        // bounded by the limit plus one message.
        long queued = Assert.Single(server.Server.Connections).QueuedBytes;
        Assert.InRange(queued, QueueLimit + 1, QueueLimit + MessageSize + 14);

        for (int i = 0; i < MessageCount; i++)
        {
            var frame = await peer.ReadFrameAsync(TimeSpan.FromSeconds(10));
            Assert.NotNull(frame);
            Assert.Equal((byte)0x2, frame.Value.Opcode);
            Assert.Equal(MessageSize, frame.Value.Payload.Length);
            Assert.Equal(i, BinaryPrimitives.ReadInt32BigEndian(frame.Value.Payload));
        }

        Assert.Equal(MessageCount, Volatile.Read(ref completedSends));
    }

    /// <summary>Waits until <paramref name="progress"/> stops moving for a while, and returns where it stopped.</summary>
    private static async Task<int> WaitForStallAsync(Func<int> progress)
    {
        int last = -1;
        DateTime deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
            int now = progress();
            if (now == last)
            {
                return now;
            }

            last = now;
        }

        return last;
    }
}
