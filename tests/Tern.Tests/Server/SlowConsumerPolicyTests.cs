using System.Buffers.Binary;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>
/// <see cref="WebSocketServerOptions.SlowConsumerPolicy"/> for sends to a peer that does not read: wait (covered by
/// SendQueueTests), drop the message, or close with 1008 ahead of the backlog.
/// </summary>
public sealed class SlowConsumerPolicyTests
{
    private const int MessageSize = 64 * 1024;
    private const long QueueLimit = 256 * 1024;

    [Fact]
    public async Task Under_Drop_sends_to_a_peer_that_does_not_read_return_at_once_and_the_queue_stays_bounded()
    {
        var done = new TaskCompletionSource<(int Sent, long MaxQueued)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, ct) =>
        {
            byte[] message = new byte[MessageSize];
            long maxQueued = 0;
            for (int i = 0; i < 400; i++)
            {
                BinaryPrimitives.WriteInt32BigEndian(message, i);
                ValueTask send = connection.SendBinaryAsync(message, ct);
                Assert.True(send.IsCompleted, "a send under Drop must not wait");
                await send;
                maxQueued = Math.Max(maxQueued, connection.QueuedBytes);
            }

            done.TrySetResult((400, maxQueued));
            await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
            {
            }
        }), o =>
        {
            o.MaxSendQueueSize = QueueLimit;
            o.SlowConsumerPolicy = SlowConsumerPolicy.Drop;
        });
        await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port, receiveBufferSize: 4096);
        (int sent, long maxQueued) = await done.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // 400 x 64 KiB = 25 MiB sent to a client that read nothing: most were dropped, the queue never passed a message over its limit.
        Assert.True(maxQueued <= QueueLimit + MessageSize + 64, $"queued {maxQueued}");

        // The client reads now: whole messages in increasing order with gaps where messages were dropped, and the
        // connection is still open and usable.
        int received = 0;
        int last = -1;
        while (received < sent)
        {
            (byte Opcode, bool Fin, byte[] Payload) frame;
            try
            {
                // Nothing more within a second: everything that was queued has arrived.
                frame = (await peer.ReadFrameAsync(TimeSpan.FromSeconds(1)))!.Value;
            }
            catch (OperationCanceledException)
            {
                break;
            }

            Assert.Equal(0x2, frame.Opcode);
            Assert.Equal(MessageSize, frame.Payload.Length);
            int index = BinaryPrimitives.ReadInt32BigEndian(frame.Payload);
            Assert.True(index > last, $"message {index} after {last}");
            last = index;
            received++;
        }

        Assert.InRange(received, 1, sent - 1);
        Assert.Equal(WebSocketConnectionState.Open, server.Server.Connections.Single().State);
    }

    [Fact]
    public async Task Under_Close_a_send_to_a_peer_that_does_not_read_closes_with_1008_ahead_of_the_backlog()
    {
        var failure = new TaskCompletionSource<(int At, Exception Error)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, ct) =>
        {
            byte[] message = new byte[MessageSize];
            for (int i = 0; i < 400; i++)
            {
                BinaryPrimitives.WriteInt32BigEndian(message, i);
                try
                {
                    await connection.SendBinaryAsync(message, ct);
                    // Paced, so the socket's own buffers fill first and the queue grows only once the kernel is full.
                    await Task.Delay(1, ct);
                }
                catch (WebSocketClosedException e)
                {
                    failure.TrySetResult((i, e));
                    throw;
                }
            }
        }), o =>
        {
            o.MaxSendQueueSize = QueueLimit;
            o.SlowConsumerPolicy = SlowConsumerPolicy.Close;
        });
        await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port, receiveBufferSize: 4096);
        (int at, Exception error) = await failure.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("slow", error.Message);

        int received = 0;
        while (true)
        {
            (byte opcode, _, byte[] payload) = (await peer.ReadFrameAsync(TimeSpan.FromSeconds(10)))
                ?? throw new Xunit.Sdk.XunitException("TCP closed before the close frame");
            if (opcode == 0x8)
            {
                Assert.Equal(1008, BinaryPrimitives.ReadUInt16BigEndian(payload));
                break;
            }

            Assert.Equal(received, BinaryPrimitives.ReadInt32BigEndian(payload));
            Assert.Equal(MessageSize, payload.Length);
            received++;
        }

        // Some whole messages were already on their way; the backlog behind them was discarded.
        Assert.True(received < at, $"{received} messages arrived of the {at} queued before the close");
        await peer.SendFrameAsync(0x8, [0x03, 0xE8]);
        Assert.True(await peer.WaitForServerCloseAsync(TimeSpan.FromSeconds(10)));
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 0);
    }
}
