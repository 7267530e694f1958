using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>Sends from many threads at once, while the peer sends too: whole frames, per-thread order kept.</summary>
public sealed class ConcurrentSendTests
{
    private const int Threads = 8;
    private const int MessagesPerThread = 150;
    private const int ClientMessages = 300;

    [Fact]
    public async Task Eight_threads_send_while_the_reader_echoes_and_the_client_sends_and_nothing_interleaves()
    {
        var failures = new ConcurrentQueue<Exception>();
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, ct) =>
        {
            Task[] senders = Enumerable.Range(0, Threads).Select(thread => Task.Run(async () =>
            {
                try
                {
                    for (int seq = 0; seq < MessagesPerThread; seq++)
                    {
                        byte[] message = ServerMessage(thread, seq);
                        if (seq % 3 == 0)
                        {
                            await connection.SendTextAsync(message, ct);
                        }
                        else
                        {
                            await connection.SendBinaryAsync(message, ct);
                        }
                    }
                }
                catch (Exception e)
                {
                    failures.Enqueue(e);
                }
            }, ct)).ToArray();

            // The reader echoes at the same time: a ninth sender.
            await foreach (WebSocketMessage message in connection.ReadMessagesAsync(ct))
            {
                await connection.SendAsync(message, ct);
            }

            await Task.WhenAll(senders);
        }), o => o.MaxMessageSize = 1024 * 1024);

        using ClientWebSocket client = await server.ConnectClientAsync();
        byte[][] clientMessages = Enumerable.Range(0, ClientMessages).Select(ClientMessage).ToArray();
        Task sending = Task.Run(async () =>
        {
            foreach (byte[] message in clientMessages)
            {
                await client.SendAsync(message, WebSocketMessageType.Binary, true, CancellationToken.None);
            }
        });

        var nextSeq = new int[Threads];
        int echoes = 0;
        while (echoes < ClientMessages || nextSeq.Any(n => n < MessagesPerThread))
        {
            (WebSocketMessageType type, byte[] data) = await client.ReceiveMessageAsync();
            Assert.NotEqual(WebSocketMessageType.Close, type);
            if (data[0] == 0xEC)
            {
                Assert.Equal(WebSocketMessageType.Binary, type);
                Assert.Equal(clientMessages[echoes], data);
                echoes++;
                continue;
            }

            int thread = data[0] - (byte)'A';
            int seq = SequenceOf(data);
            Assert.InRange(thread, 0, Threads - 1);
            Assert.Equal(nextSeq[thread], seq);
            Assert.Equal(seq % 3 == 0 ? WebSocketMessageType.Text : WebSocketMessageType.Binary, type);
            Assert.Equal(ServerMessage(thread, seq), data);
            nextSeq[thread]++;
        }

        await sending.WaitAsync(TimeSpan.FromSeconds(30));
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        Assert.Empty(failures);
    }

    [Fact]
    public async Task Sends_racing_a_close_either_go_out_whole_before_it_or_throw_WebSocketClosedException()
    {
        var outcomes = new ConcurrentQueue<Exception?>();
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (connection, ct) =>
        {
            Task[] senders = Enumerable.Range(0, Threads).Select(thread => Task.Run(async () =>
            {
                try
                {
                    for (int seq = 0; ; seq++)
                    {
                        await connection.SendBinaryAsync(ServerMessage(thread, seq), CancellationToken.None);
                    }
                }
                catch (Exception e)
                {
                    outcomes.Enqueue(e);
                }
            })).ToArray();
            await Task.Delay(50, ct);
            await connection.CloseAsync((WebSocketCloseCode)4000, "racing", CancellationToken.None);
            closed.TrySetResult();
            await Task.WhenAll(senders);
        }), o => o.MaxSendQueueSize = 64 * 1024 * 1024);

        await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
        var nextSeq = new int[Threads];
        while (true)
        {
            var frame = await peer.ReadFrameAsync(TimeSpan.FromSeconds(20));
            Assert.NotNull(frame);
            Assert.True(frame.Value.Fin);
            if (frame.Value.Opcode == 0x8)
            {
                Assert.Equal(4000, BinaryPrimitives.ReadUInt16BigEndian(frame.Value.Payload));
                break;
            }

            Assert.Equal((byte)0x2, frame.Value.Opcode);
            int thread = frame.Value.Payload[0] - (byte)'A';
            int seq = SequenceOf(frame.Value.Payload);
            Assert.Equal(nextSeq[thread]++, seq);
            Assert.Equal(ServerMessage(thread, seq), frame.Value.Payload);
        }

        // Answer the close; after it the server sends nothing more and closes TCP.
        await peer.SendFrameAsync(0x8, [0x0F, 0xA0]);
        Assert.Null(await peer.ReadFrameAsync(TimeSpan.FromSeconds(10)));
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await TestServer.WaitUntilAsync(() => outcomes.Count == Threads, because: "every sender to stop");
        Assert.All(outcomes, e => Assert.IsType<WebSocketClosedException>(e));
        Assert.True(nextSeq.Sum() > 0, "nothing was sent before the close");
    }

    /// <summary>
    /// 'A' + thread, the sequence number in 5 decimal digits, then a filler whose length crosses all three length
    /// forms. All ASCII, so the ones sent as text are valid UTF-8.
    /// </summary>
    private static byte[] ServerMessage(int thread, int seq)
    {
        int length = 6 + (seq * 7919 + thread * 104729) % 70_000;
        byte[] message = new byte[length];
        message[0] = (byte)('A' + thread);
        System.Text.Encoding.ASCII.GetBytes(seq.ToString("D5", System.Globalization.CultureInfo.InvariantCulture), message.AsSpan(1));
        for (int i = 6; i < length; i++)
        {
            message[i] = (byte)('a' + (i + seq + thread) % 26);
        }

        return message;
    }

    private static int SequenceOf(byte[] message) =>
        int.Parse(System.Text.Encoding.ASCII.GetString(message, 1, 5), System.Globalization.CultureInfo.InvariantCulture);

    private static byte[] ClientMessage(int index)
    {
        byte[] message = new byte[1 + (index * 3571) % 20_000];
        new Random(index).NextBytes(message);
        message[0] = 0xEC;
        return message;
    }
}
