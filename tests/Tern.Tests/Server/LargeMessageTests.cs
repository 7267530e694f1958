using System.Text;
using Tern.Protocol;
using Tern.Tests.Compression;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>
/// Fragmented sends (<see cref="WebSocketConnection.BeginMessageAsync"/>) and streamed reads
/// (<see cref="WebSocketConnection.ReadMessageStreamAsync"/>) over loopback, both ways, with and without
/// permessage-deflate, and on the wire with a raw peer: no interleaving, control frames between fragments, limits.
/// </summary>
public sealed class LargeMessageTests
{
    private static readonly byte[] Json = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 3000).Select(i => $"{{\"id\":{i},\"text\":\"héllo €\"}},")));

    /// <summary>Reads every message as a stream and echoes it as it arrives, one fragment per chunk read.</summary>
    internal static void MapStreamingEcho(WebSocketServer server) =>
        server.MapFallback(async (connection, ct) =>
        {
            byte[] buffer = new byte[7000];
            while (await connection.ReadMessageStreamAsync(ct) is { } reader)
            {
                await using (reader)
                await using (WebSocketMessageWriter writer = await connection.BeginMessageAsync(reader.Kind, ct))
                {
                    int read;
                    while ((read = await reader.ReadAsync(buffer, ct)) > 0)
                    {
                        await writer.WriteAsync(buffer.AsMemory(0, read), ct);
                    }

                    Assert.True(reader.EndOfMessage);
                    await writer.CompleteAsync(cancellationToken: ct);
                }
            }
        });

    private static WebSocketCompressionOptions? Compression(string deflate) => deflate switch
    {
        "off" => null,
        "takeover" => new WebSocketCompressionOptions { ServerContextTakeover = true, ClientContextTakeover = true },
        _ => new WebSocketCompressionOptions(),
    };

    private static async Task<byte[]> ReadToEndAsync(WebSocketMessageReader reader)
    {
        var whole = new MemoryStream();
        await reader.CopyToAsync(whole);
        return whole.ToArray();
    }

    private static async Task SendInPartsAsync(WebSocketConnection connection, WebSocketMessageKind kind, byte[] message, int part)
    {
        await using WebSocketMessageWriter writer = await connection.BeginMessageAsync(kind);
        for (int offset = 0; offset < message.Length; offset += part)
        {
            await writer.WriteAsync(message.AsMemory(offset, Math.Min(part, message.Length - offset)));
        }

        await writer.CompleteAsync();
    }

    [Theory]
    [InlineData("off")]
    [InlineData("no-takeover")]
    [InlineData("takeover")]
    public async Task Fragmented_and_streamed_both_ways_with_tern_client(string deflate)
    {
        await using TestServer server = await TestServer.StartAsync(MapStreamingEcho, o =>
        {
            o.Compression = Compression(deflate);
            o.MaxMessageSize = 4 << 20;
        });
        var options = new WebSocketClientOptions { Compression = Compression(deflate), MaxMessageSize = 4 << 20 };
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri(), options);
        Assert.Equal(deflate != "off", client.Extensions is not null);

        byte[] noise = new byte[300_000];
        new Random(9).NextBytes(noise);
        byte[] big = [.. Enumerable.Repeat(Json, 20).SelectMany(b => b)];
        // Sent in parts (split mid-character for the text), read back as streams, then once more read whole.
        foreach ((WebSocketMessageKind kind, byte[] message, int part) in new[]
        {
            (WebSocketMessageKind.Text, Json, 1001), (WebSocketMessageKind.Binary, noise, 65_536), (WebSocketMessageKind.Text, big, 300_000),
            (WebSocketMessageKind.Binary, Array.Empty<byte>(), 1), (WebSocketMessageKind.Text, Encoding.UTF8.GetBytes("é"), 1),
        })
        {
            await SendInPartsAsync(client, kind, message, part);
            await using WebSocketMessageReader reader = (await client.ReadMessageStreamAsync())!;
            Assert.Equal(kind, reader.Kind);
            byte[] received = await ReadToEndAsync(reader);
            Assert.True(message.AsSpan().SequenceEqual(received), $"a {message.Length}-byte message came back different");
        }

        await SendInPartsAsync(client, WebSocketMessageKind.Text, Json, 4000);
        await foreach (WebSocketMessage whole in client.ReadMessagesAsync())
        {
            Assert.Equal(Json, whole.Data.ToArray());
            break;
        }

        await client.CloseAsync();
        Assert.Equal(WebSocketCloseCode.NormalClosure, client.CloseInfo!.Code);
    }

    [Fact]
    public async Task Other_sends_and_broadcasts_wait_for_the_open_message_and_pongs_go_between_its_frames()
    {
        var firstPartSent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var othersIssued = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pingAnswered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task? heldSend = null;
        TestServer? server = null;
        server = await TestServer.StartAsync(s => s.MapFallback(async (connection, ct) =>
        {
            IAsyncEnumerator<WebSocketMessage> reads = connection.ReadMessagesAsync(ct).GetAsyncEnumerator(ct);
            Task<bool> nextRead = reads.MoveNextAsync().AsTask();
            await using (WebSocketMessageWriter writer = await connection.BeginMessageAsync(WebSocketMessageKind.Text, ct))
            {
                await writer.WriteAsync("one "u8.ToArray(), ct);
                firstPartSent.SetResult();
                // While the message is open: a send, a broadcast and a second fragmented message, in that order.
                heldSend = connection.SendTextAsync("send", ct).AsTask();
                await server!.Server.BroadcastTextAsync("broadcast");
                Task second = SendSecondAsync(connection, ct);
                await Task.Delay(200, ct);
                Assert.False(heldSend.IsCompleted, "a send went out in the middle of a fragmented message");
                Assert.False(second.IsCompleted);
                othersIssued.SetResult();
                await pingAnswered.Task.WaitAsync(ct);
                await writer.WriteAsync("two "u8.ToArray(), ct);
                await writer.CompleteAsync("three"u8.ToArray(), ct);
                await heldSend.WaitAsync(ct);
                await second.WaitAsync(ct);
            }

            await connection.SendTextAsync("after", ct);
            await nextRead;
        }));
        await using (server)
        {
            await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
            await firstPartSent.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await othersIssued.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await peer.SendFrameAsync(0x9, "ping"u8);
            var frames = new List<string>();
            for (int i = 0; i < 2; i++)
            {
                var (opcode, fin, payload) = (await peer.ReadFrameAsync())!.Value;
                frames.Add($"{opcode} {fin} {Encoding.UTF8.GetString(payload)}");
            }

            pingAnswered.SetResult();
            for (int i = 0; i < 7; i++)
            {
                var (opcode, fin, payload) = (await peer.ReadFrameAsync())!.Value;
                frames.Add($"{opcode} {fin} {(opcode == 2 || opcode == 0 && payload.Length == 1 && payload[0] < 3 ? Convert.ToHexString(payload) : Encoding.UTF8.GetString(payload))}");
            }

            Assert.Equal(
            [
                "1 False one ", "10 True ping", "0 False two ", "0 True three",
                "1 True send", "1 True broadcast", "2 False 01", "0 True 02", "1 True after",
            ], frames);
        }
    }

    private static async Task SendSecondAsync(WebSocketConnection connection, CancellationToken ct)
    {
        await using WebSocketMessageWriter other = await connection.BeginMessageAsync(WebSocketMessageKind.Binary, ct);
        await other.WriteAsync(new byte[] { 1 }, ct);
        await other.CompleteAsync(new byte[] { 2 }, ct);
    }

    [Fact]
    public async Task A_writer_disposed_before_its_end_closes_with_1011_and_one_that_sent_nothing_ends_quietly()
    {
        await using TestServer server = await TestServer.StartAsync(s => s.MapFallback(async (connection, ct) =>
        {
            await using (await connection.BeginMessageAsync(WebSocketMessageKind.Text, ct))
            {
            }

            await connection.SendTextAsync("still open", ct);
            await using (WebSocketMessageWriter writer = await connection.BeginMessageAsync(WebSocketMessageKind.Text, ct))
            {
                await writer.WriteAsync("half a mess"u8.ToArray(), ct);
            }

            await Assert.ThrowsAsync<WebSocketClosedException>(async () => await connection.SendTextAsync("never", ct));
            await foreach (WebSocketMessage unused in connection.ReadMessagesAsync(ct))
            {
            }
        }));
        await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
        Assert.Equal("still open", Encoding.UTF8.GetString((await peer.ReadFrameAsync())!.Value.Payload));
        var (opcode, fin, _) = (await peer.ReadFrameAsync())!.Value;
        Assert.Equal((1, false), (opcode, fin));
        var (closeOpcode, _, close) = (await peer.ReadFrameAsync())!.Value;
        Assert.Equal(8, closeOpcode);
        Assert.Equal(1011, close[0] << 8 | close[1]);
    }

    [Fact]
    public async Task With_deflate_the_parts_are_one_compressed_message_with_rsv1_on_the_first_frame_only()
    {
        await using TestServer server = await TestServer.StartAsync(s => s.MapFallback(async (connection, ct) =>
        {
            for (int round = 0; round < 2; round++)
            {
                await using WebSocketMessageWriter writer = await connection.BeginMessageAsync(WebSocketMessageKind.Text, ct);
                await writer.WriteAsync(Json.AsMemory(0, 20_000), ct);
                await writer.WriteAsync(Json.AsMemory(20_000, 30_000), ct);
                await writer.CompleteAsync(Json.AsMemory(50_000), ct);
            }

            await foreach (WebSocketMessage unused in connection.ReadMessagesAsync(ct))
            {
            }
        }), o => o.Compression = new WebSocketCompressionOptions());
        await using RawPeer peer = await RawPeer.ConnectAsync(server.Port);
        await peer.SendAsync(RawPeer.UpgradeRequest("/", "Sec-WebSocket-Extensions: permessage-deflate"));
        Assert.Contains("server_no_context_takeover", await peer.ReadHttpHeadAsync());
        for (int round = 0; round < 2; round++)
        {
            var compressed = new List<byte>();
            var rsv = new List<byte>();
            for (int i = 0; i < 3; i++)
            {
                var (opcode, fin, payload) = (await peer.ReadFrameAsync())!.Value;
                Assert.Equal((i == 0 ? 1 : 0, i == 2), (opcode, fin));
                rsv.Add(peer.LastFrameRsv);
                compressed.AddRange(payload);
            }

            Assert.Equal([4, 0, 0], rsv);
            Assert.True(compressed.Count < Json.Length / 4, $"{compressed.Count} bytes for {Json.Length}");
            // Each message on its own inflates (no context takeover): the pooled deflater refers to nothing before it.
            Assert.Equal(Json, Deflate.Decompress(compressed.ToArray()));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_streamed_message_over_the_limit_ends_in_1009(bool deflate)
    {
        var readerFailed = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.MapFallback(async (connection, ct) =>
        {
            try
            {
                await using WebSocketMessageReader reader = (await connection.ReadMessageStreamAsync(ct))!;
                await reader.CopyToAsync(Stream.Null, ct);
                readerFailed.SetResult(null);
            }
            catch (Exception e)
            {
                readerFailed.SetResult(e);
            }
        }), o =>
        {
            o.MaxMessageSize = 1 << 20;
            o.Compression = deflate ? new WebSocketCompressionOptions() : null;
        });
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri(), new WebSocketClientOptions { Compression = deflate ? new WebSocketCompressionOptions() : null });
        try
        {
            await SendInPartsAsync(client, WebSocketMessageKind.Binary, new byte[3 << 20], 256 * 1024);
        }
        catch (WebSocketClosedException)
        {
            // The server may have closed before the last parts went out.
        }

        Assert.IsType<IOException>(await readerFailed.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        await foreach (WebSocketMessage unused in client.ReadMessagesAsync())
        {
        }

        Assert.Equal(WebSocketCloseCode.MessageTooBig, client.CloseInfo!.Code);
    }

    [Fact]
    public async Task A_reader_disposed_early_skips_the_rest_and_only_one_reader_at_a_time()
    {
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.MapFallback(async (connection, ct) =>
        {
            WebSocketMessageReader first = (await connection.ReadMessageStreamAsync(ct))!;
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await connection.ReadMessageStreamAsync(ct));
            byte[] some = new byte[10];
            Assert.Equal(10, await first.ReadAsync(some, ct));
            await first.DisposeAsync();
            await foreach (WebSocketMessage next in connection.ReadMessagesAsync(ct))
            {
                done.SetResult(next.GetText());
                break;
            }
        }));
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri());
        await SendInPartsAsync(client, WebSocketMessageKind.Binary, new byte[200_000], 50_000);
        await client.SendTextAsync("next");
        Assert.Equal("next", await done.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Concurrent_sends_broadcasts_and_fragmented_messages_never_interleave_on_the_wire()
    {
        TestServer? server = null;
        server = await TestServer.StartAsync(s => s.MapFallback(async (connection, ct) =>
        {
            var senders = new List<Task>();
            for (int t = 0; t < 3; t++)
            {
                int sender = t;
                senders.Add(Task.Run(async () =>
                {
                    for (int i = 0; i < 40; i++)
                    {
                        await connection.SendTextAsync($"s{sender}-{i}", ct);
                    }
                }, ct));
            }

            for (int t = 0; t < 2; t++)
            {
                int writerId = t;
                senders.Add(Task.Run(async () =>
                {
                    for (int i = 0; i < 10; i++)
                    {
                        await using WebSocketMessageWriter writer = await connection.BeginMessageAsync(WebSocketMessageKind.Text, ct);
                        for (int part = 0; part < 4; part++)
                        {
                            await writer.WriteAsync(Encoding.UTF8.GetBytes($"w{writerId}-{i}.{part} "), ct);
                            await Task.Yield();
                        }

                        await writer.CompleteAsync(Encoding.UTF8.GetBytes("end"), ct);
                    }
                }, ct));
            }

            senders.Add(Task.Run(async () =>
            {
                for (int i = 0; i < 40; i++)
                {
                    await server!.Server.BroadcastTextAsync($"b-{i}");
                    await Task.Yield();
                }
            }, ct));
            await Task.WhenAll(senders);
            await connection.SendTextAsync("done", ct);
            await foreach (WebSocketMessage unused in connection.ReadMessagesAsync(ct))
            {
            }
        }));
        await using (server)
        {
            // The raw client fails the test on any frame out of place (a data frame inside a fragmented message).
            await using Conformance.RawClient client = await Conformance.RawClient.OpenAsync(server.Port);
            var received = new List<string>();
            while (true)
            {
                Conformance.ServerEvent e = await client.NextEventAsync(TimeSpan.FromSeconds(20));
                Assert.Equal(Conformance.ServerEventKind.Message, e.Kind);
                string text = Encoding.UTF8.GetString(e.Payload);
                if (text == "done")
                {
                    break;
                }

                received.Add(text);
            }

            Assert.Equal(3 * 40 + 2 * 10 + 40, received.Count);
            // Each sender's messages arrive whole and in its order.
            foreach (string prefix in new[] { "s0-", "s1-", "s2-", "b-" })
            {
                Assert.Equal(Enumerable.Range(0, 40).Select(i => $"{prefix}{i}"), received.Where(r => r.StartsWith(prefix, StringComparison.Ordinal)));
            }

            foreach (int writer in new[] { 0, 1 })
            {
                Assert.Equal(Enumerable.Range(0, 10).Select(i => $"w{writer}-{i}.0 w{writer}-{i}.1 w{writer}-{i}.2 w{writer}-{i}.3 end"),
                    received.Where(r => r.StartsWith($"w{writer}-", StringComparison.Ordinal)));
            }

            await client.CloseNormallyAsync();
        }
    }

    [Fact]
    public async Task Broadcasts_held_behind_an_open_message_are_bounded_by_the_send_queue_limit()
    {
        TestServer? server = null;
        server = await TestServer.StartAsync(s => s.MapFallback(async (connection, ct) =>
        {
            await using (WebSocketMessageWriter writer = await connection.BeginMessageAsync(WebSocketMessageKind.Binary, ct))
            {
                await writer.WriteAsync(new byte[] { 1 }, ct);
                for (int i = 0; i < 50; i++)
                {
                    await server!.Server.BroadcastBinaryAsync(new byte[8192]);
                }

                await writer.CompleteAsync(new byte[] { 2 }, ct);
            }

            await TestServer.WaitUntilAsync(() => connection.QueuedBytes == 0, because: "the peer to read what was queued");
            await connection.SendTextAsync("done", ct);
            await foreach (WebSocketMessage unused in connection.ReadMessagesAsync(ct))
            {
            }
        }), o =>
        {
            o.MaxSendQueueSize = 64 * 1024;
            o.SlowConsumerPolicy = SlowConsumerPolicy.Drop;
        });
        await using (server)
        {
            await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port);
            var (first, firstFin, _) = (await peer.ReadFrameAsync())!.Value;
            var (last, lastFin, _) = (await peer.ReadFrameAsync())!.Value;
            Assert.Equal((2, false, 0, true), (first, firstFin, last, lastFin));
            int broadcasts = 0;
            while ((await peer.ReadFrameAsync())!.Value is var (opcode, _, payload) && opcode == 2)
            {
                Assert.Equal(8192, payload.Length);
                broadcasts++;
            }

            // 64 KiB of held copies is 8 of them (one more may fit under the check): the other 41 were dropped, not buffered.
            Assert.InRange(broadcasts, 8, 9);
        }
    }

    [Fact]
    public async Task WriteAsync_waits_for_the_queue_to_drain_while_the_peer_does_not_read()
    {
        var sawWait = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using TestServer server = await TestServer.StartAsync(s => s.MapFallback(async (connection, ct) =>
        {
            bool waited = false;
            await using (WebSocketMessageWriter writer = await connection.BeginMessageAsync(WebSocketMessageKind.Binary, ct))
            {
                for (int i = 0; i < 16; i++)
                {
                    ValueTask write = writer.WriteAsync(new byte[1 << 20], ct);
                    if (!write.IsCompleted && !waited)
                    {
                        waited = true;
                        sawWait.SetResult(true);
                    }

                    await write;
                }

                await writer.CompleteAsync(cancellationToken: ct);
            }

            sawWait.TrySetResult(false);
            await foreach (WebSocketMessage unused in connection.ReadMessagesAsync(ct))
            {
            }
        }), o => o.MaxSendQueueSize = 64 * 1024);
        await using RawPeer peer = await RawPeer.ConnectWebSocketAsync(server.Port, receiveBufferSize: 4096);
        Assert.True(await sawWait.Task.WaitAsync(TimeSpan.FromSeconds(10)), "no write waited for the queue");
        long total = 0;
        bool fin = false;
        while (!fin)
        {
            (byte _, fin, byte[] payload) = (await peer.ReadFrameAsync())!.Value;
            total += payload.Length;
        }

        Assert.Equal(16L << 20, total);
    }
}
