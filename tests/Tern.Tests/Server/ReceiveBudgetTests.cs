using Tern.Protocol;
using Tern.Tests.Protocol;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>
/// <see cref="WebSocketServerOptions.MaxBufferedBytes"/>: several peers each sending a large message slowly cannot make
/// the server buffer more than the budget; the one that would pass it gets 1013, the others finish.
/// </summary>
public sealed class ReceiveBudgetTests
{
    private const int MessageSize = 3 * 1024 * 1024;

    // Each peer's buffer: 1 MiB reserved from the header, doubled once its bytes pass that.

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_handler_that_leaves_without_finishing_its_reader_still_gives_the_budget_back(bool streamed)
    {
        var kept = new List<object>();
        var handlerDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(
            configure: s => s.MapFallback(async (connection, ct) =>
            {
                try
                {
                    if (streamed)
                    {
                        // Reads one chunk of a large message and returns without disposing the reader.
                        WebSocketMessageReader reader = (await connection.ReadMessageStreamAsync(ct))!;
                        Assert.True(await reader.ReadAsync(new byte[1024], ct) > 0);
                        kept.Add(reader);
                    }
                    else
                    {
                        // Takes one message and returns from inside the loop without disposing the enumerator.
                        IAsyncEnumerator<WebSocketMessage> messages = connection.ReadMessagesAsync(ct).GetAsyncEnumerator(ct);
                        await messages.MoveNextAsync();
                        kept.Add(messages);
                    }
                }
                finally
                {
                    handlerDone.TrySetResult();
                }
            }),
            options: o => o.MaxMessageSize = 4 * 1024 * 1024);
        await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
        byte[] payload = new byte[streamed ? 3 * 1024 * 1024 : 512 * 1024];
        byte[] wire = FrameBuilder.Frame(Opcode.Binary, payload);
        // The streamed handler gets its first chunk with half the message in; the other gets it whole.
        await peer.SendAsync(streamed ? wire[..(wire.Length / 2)] : wire);
        await handlerDone.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await peer.DisposeAsync();
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 0, 10, "the connection to end");
        await TestServer.WaitUntilAsync(() => server.Server.BufferedBytes == 0, 10, $"the abandoned reader's buffer to leave the budget (now {server.Server.BufferedBytes})");
        GC.KeepAlive(kept);
    }

    [Fact]
    public async Task Large_unfinished_messages_stop_at_the_budget_with_1013_and_the_memory_comes_back()
    {
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.MaxMessageSize = 4 * 1024 * 1024;
            o.MaxBufferedBytes = 6 * 1024 * 1024;
        });
        byte[] message = Enumerable.Range(0, MessageSize).Select(i => (byte)(i * 7)).ToArray();
        byte[] wire = FrameBuilder.Frame(Opcode.Binary, message);
        var peers = new List<RawPeer>();
        try
        {
            // Half of a 3 MiB message holds a 2 MiB buffer (1 MiB from the header, doubled as bytes arrive): two such
            // fit the 6 MiB budget; a third does not once it grows past its first 1 MiB (growing holds the old buffer and the
            // new one, 1 + 2 MiB, at once).
            for (int i = 0; i < 3; i++)
            {
                RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
                peers.Add(peer);
                await peer.SendAsync(wire[..(wire.Length / 2)]);
                long expected = Math.Min(i + 1, 2) * 2L * 1024 * 1024;
                await TestServer.WaitUntilAsync(() => server.Server.BufferedBytes == expected, 10, $"{expected} bytes buffered (now {server.Server.BufferedBytes})");
            }

            (byte opcode, _, byte[] payload) = (await peers[2].ReadFrameAsync())!.Value;
            Assert.Equal(0x8, opcode);
            Assert.Equal((int)WebSocketCloseCode.TryAgainLater, payload[0] << 8 | payload[1]);
            Assert.True(await peers[2].WaitForServerCloseAsync(TimeSpan.FromSeconds(10)));

            // The second leaves; the first finishes its message (growing to 3 MiB) and gets it back whole.
            await peers[1].DisposeAsync();
            await TestServer.WaitUntilAsync(() => server.Server.BufferedBytes == 2L * 1024 * 1024, 10, "the second peer's share to be given back");
            Task<(byte Opcode, bool Fin, byte[] Payload)?> echo = peers[0].ReadFrameAsync(TimeSpan.FromSeconds(20));
            await peers[0].SendAsync(wire[(wire.Length / 2)..]);
            (byte echoOpcode, _, byte[] echoed) = (await echo)!.Value;
            Assert.Equal(0x2, echoOpcode);
            Assert.True(echoed.AsSpan().SequenceEqual(message));

            // Once the echo is sent and the handler asks for the next message, that buffer goes back too.
            await TestServer.WaitUntilAsync(() => server.Server.BufferedBytes == 0, 10, $"the idle connection to give its buffer back (now {server.Server.BufferedBytes})");

            // Budget back to zero once the peers leave; a newcomer's large message fits again.
            foreach (RawPeer peer in peers)
            {
                await peer.DisposeAsync();
            }

            peers.Clear();
            await TestServer.WaitUntilAsync(() => server.Server.BufferedBytes == 0 && server.Server.ConnectionCount == 0, 10, "the budget to be given back");
            await using RawPeer newcomer = await RawPeer.ConnectWebSocketAsync(server.Port);
            Task<(byte Opcode, bool Fin, byte[] Payload)?> reply = newcomer.ReadFrameAsync(TimeSpan.FromSeconds(20));
            await newcomer.SendAsync(wire);
            Assert.Equal(MessageSize, (await reply)!.Value.Payload.Length);
        }
        finally
        {
            foreach (RawPeer peer in peers)
            {
                await peer.DisposeAsync();
            }
        }
    }

    [Fact]
    public void The_default_budget_is_a_quarter_of_available_memory()
    {
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        Assert.True(available > 0);
        Assert.Equal(available / 4, new WebSocketServerOptions().MaxBufferedBytes);
    }
}
