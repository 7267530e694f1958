using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>Broadcast to all or to a set; a slow consumer is dropped while the others keep receiving.</summary>
public sealed class BroadcastTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [Fact]
    public async Task Text_and_binary_broadcasts_reach_every_open_connection()
    {
        await using TestServer server = await TestServer.StartAsync(MapRoom);
        await using Room room = await Room.JoinAsync(server, 5);

        await server.Server.BroadcastTextAsync("hello, everyone ✓");
        await server.Server.BroadcastBinaryAsync(new byte[] { 1, 2, 3 });
        await server.Server.BroadcastTextAsync("raw utf-8"u8.ToArray());

        foreach (Member member in room.Members)
        {
            Assert.Equal((WebSocketMessageType.Text, "hello, everyone ✓"), await member.NextTextAsync());
            (WebSocketMessageType type, byte[] data) = await member.NextAsync();
            Assert.Equal(WebSocketMessageType.Binary, type);
            Assert.Equal(new byte[] { 1, 2, 3 }, data);
            Assert.Equal((WebSocketMessageType.Text, "raw utf-8"), await member.NextTextAsync());
        }
    }

    [Fact]
    public async Task A_broadcast_to_a_set_reaches_only_that_set()
    {
        await using TestServer server = await TestServer.StartAsync(MapRoom);
        await using Room room = await Room.JoinAsync(server, 5);
        WebSocketConnection[] evens = server.Server.Connections.Where(c => int.Parse(c.Query["n"], System.Globalization.CultureInfo.InvariantCulture) % 2 == 0).ToArray();
        Assert.Equal(3, evens.Length);

        await server.Server.BroadcastTextAsync("evens only", evens);
        await server.Server.BroadcastTextAsync("everyone");

        for (int n = 0; n < room.Members.Count; n++)
        {
            if (n % 2 == 0)
            {
                Assert.Equal("evens only", (await room.Members[n].NextTextAsync()).Text);
            }

            Assert.Equal("everyone", (await room.Members[n].NextTextAsync()).Text);
        }
    }

    [Fact]
    public async Task Closed_and_closing_connections_are_skipped_without_error()
    {
        await using TestServer server = await TestServer.StartAsync(MapRoom);
        await using Room room = await Room.JoinAsync(server, 3);
        WebSocketConnection[] snapshot = server.Server.Connections.ToArray();
        await room.Members[0].Client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 2);

        await server.Server.BroadcastTextAsync("still here", snapshot); // includes the closed one
        Assert.Equal("still here", (await room.Members[1].NextTextAsync()).Text);
        Assert.Equal("still here", (await room.Members[2].NextTextAsync()).Text);
    }

    [Fact]
    public async Task A_slow_consumer_over_MaxSendQueueSize_is_closed_with_1008_ahead_of_its_backlog_while_the_others_keep_receiving()
    {
        const int MessageSize = 128 * 1024;
        const int MessageCount = 120;
        var log = new RecordingLoggerFactory();
        await using TestServer server = await TestServer.StartAsync(MapRoom, o =>
        {
            o.MaxSendQueueSize = 256 * 1024;
            o.LoggerFactory = log;
        });
        await using Room room = await Room.JoinAsync(server, 3);
        // Joins, then never reads: its socket buffers fill, then its queue in Tern.
        await using RawPeer slow = await RawPeer.ConnectWebSocketAsync(server.Port, "/room?n=slow", receiveBufferSize: 4096);
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 4);
        WebSocketConnection slowConnection = server.Server.Connections.Single(c => c.Query["n"] == "slow");

        byte[] message = new byte[MessageSize];
        int closedAt = -1;
        for (int i = 0; i < MessageCount; i++)
        {
            BinaryPrimitives.WriteInt32BigEndian(message, i);
            message.AsSpan(4).Fill((byte)i);
            var timer = Stopwatch.StartNew();
            ValueTask broadcast = server.Server.BroadcastBinaryAsync(message);
            Assert.True(broadcast.IsCompleted, "a broadcast must never wait on a client");
            await broadcast;
            Assert.True(timer.Elapsed < TimeSpan.FromSeconds(1), $"broadcast {i} took {timer.ElapsedMilliseconds} ms");

            // The fast members read each message before the next is sent, as live clients would keep up.
            foreach (Member member in room.Members)
            {
                (WebSocketMessageType type, byte[] data) = await member.NextAsync();
                Assert.Equal(WebSocketMessageType.Binary, type);
                Assert.Equal(message, data);
            }

            if (closedAt < 0 && slowConnection.State != WebSocketConnectionState.Open)
            {
                closedAt = i;
            }
        }

        output.WriteLine($"slow consumer closed after broadcast {closedAt} of {MessageCount} ({(closedAt + 1) * (MessageSize >> 10)} KiB)");
        Assert.True(closedAt >= 0, "the slow consumer was never closed");
        Assert.Equal(WebSocketCloseCode.PolicyViolation, slowConnection.CloseInfo?.Code);
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("slow client"));

        // When the slow client finally reads: whole messages in order (what was already on its way), then the close
        // frame with the reason, not a reset; the backlog behind it was discarded.
        int received = 0;
        int last = -1;
        while (true)
        {
            (byte opcode, bool fin, byte[] payload) = (await slow.ReadFrameAsync(TimeSpan.FromSeconds(10)))
                ?? throw new Xunit.Sdk.XunitException("TCP closed before the close frame");
            if (opcode == 0x8)
            {
                Assert.Equal(1008, BinaryPrimitives.ReadUInt16BigEndian(payload));
                Assert.Contains("slow", System.Text.Encoding.UTF8.GetString(payload, 2, payload.Length - 2));
                break;
            }

            Assert.Equal(0x2, opcode);
            Assert.True(fin);
            int index = BinaryPrimitives.ReadInt32BigEndian(payload);
            Assert.Equal(last + 1, index);
            Assert.Equal(MessageSize, payload.Length);
            last = index;
            received++;
        }

        output.WriteLine($"the slow client read {received} whole messages, then the close frame");
        Assert.True(received <= closedAt + 1, $"{received} messages delivered after {closedAt + 1} were broadcast before the close");
        Assert.True(await slow.WaitForServerCloseAsync(TimeSpan.FromSeconds(10)), "the slow consumer's socket stayed open");
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 3, because: "the slow consumer to leave the registry");
    }

    private static void MapRoom(WebSocketServer server) => server.Map("/room", async (connection, ct) =>
    {
        await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
        {
        }
    });

    private sealed class Room : IAsyncDisposable
    {
        public List<Member> Members { get; } = new();

        public static async Task<Room> JoinAsync(TestServer server, int count)
        {
            var room = new Room();
            for (int n = 0; n < count; n++)
            {
                room.Members.Add(new Member(await server.ConnectClientAsync($"/room?n={n}")));
            }

            await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == count, because: $"{count} members to join");
            return room;
        }

        public async ValueTask DisposeAsync()
        {
            foreach (Member member in Members)
            {
                await member.DisposeAsync();
            }
        }
    }

    /// <summary>A ClientWebSocket that reads continuously into a queue.</summary>
    private sealed class Member : IAsyncDisposable
    {
        private readonly Channel<(WebSocketMessageType, byte[])> _received = Channel.CreateUnbounded<(WebSocketMessageType, byte[])>();
        private readonly Task _reading;

        public Member(ClientWebSocket client)
        {
            Client = client;
            _reading = ReadAsync();
        }

        public ClientWebSocket Client { get; }

        public async Task<(WebSocketMessageType Type, byte[] Data)> NextAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            return await _received.Reader.ReadAsync(timeout.Token);
        }

        public async Task<(WebSocketMessageType Type, string Text)> NextTextAsync()
        {
            (WebSocketMessageType type, byte[] data) = await NextAsync();
            return (type, Encoding.UTF8.GetString(data));
        }

        public async ValueTask DisposeAsync()
        {
            Client.Abort();
            await _reading.WaitAsync(TimeSpan.FromSeconds(10));
            Client.Dispose();
        }

        private async Task ReadAsync()
        {
            try
            {
                while (true)
                {
                    (WebSocketMessageType type, byte[] data) = await Client.ReceiveMessageAsync(timeoutSeconds: 120);
                    if (type == WebSocketMessageType.Close)
                    {
                        return;
                    }

                    _received.Writer.TryWrite((type, data));
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
            finally
            {
                _received.Writer.TryComplete();
            }
        }
    }
}
