using Tern.TestSupport;
using System.Net.WebSockets;
using System.Text;
using Tern.Protocol;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Compression;

/// <summary>permessage-deflate over loopback: Tern's client and server, a raw peer checking the bytes, and ClientWebSocket.</summary>
public sealed class DeflateLoopbackTests
{
    private static readonly string Json = string.Concat(Enumerable.Range(0, 400).Select(i => $"{{\"id\":{i},\"user\":\"alice\",\"text\":\"hello there, how are you?\"}},"));

    private static Task<TestServer> StartDeflateServerAsync(Action<WebSocketCompressionOptions>? configure = null, Action<WebSocketServer>? routes = null, bool secure = false)
    {
        var compression = new WebSocketCompressionOptions();
        configure?.Invoke(compression);
        return TestServer.StartAsync(routes, o =>
        {
            o.Compression = compression;
            o.MaxMessageSize = 8 << 20;
            o.Tls = secure ? TestCertificates.ServerOptions() : null;
        });
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Tern_client_and_server_echo_compressed(bool serverTakeover, bool clientTakeover)
    {
        await using TestServer server = await StartDeflateServerAsync(c => (c.ServerContextTakeover, c.ClientContextTakeover) = (serverTakeover, clientTakeover));
        var options = new WebSocketClientOptions
        {
            MaxMessageSize = 8 << 20,
            Compression = new WebSocketCompressionOptions { ServerContextTakeover = serverTakeover, ClientContextTakeover = clientTakeover },
        };
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri(), options);
        Assert.StartsWith("permessage-deflate", client.Extensions);
        Assert.Equal(serverTakeover, !client.Extensions!.Contains("server_no_context_takeover"));
        Assert.Equal(client.Extensions, server.Server.Connections.Single().Extensions);

        var random = new Random(5);
        byte[] noise = new byte[300_000];
        random.NextBytes(noise);
        var sent = new List<byte[]> { Array.Empty<byte>(), "short"u8.ToArray(), Encoding.UTF8.GetBytes(Json), Encoding.UTF8.GetBytes(Json + "é"), noise, Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(Json, 200))) };
        IAsyncEnumerator<WebSocketMessage> replies = client.ReadMessagesAsync().GetAsyncEnumerator();
        foreach (byte[] message in sent.Concat(sent))
        {
            await client.SendBinaryAsync(message);
            Assert.True(await replies.MoveNextAsync());
            Assert.True(message.AsSpan().SequenceEqual(replies.Current.Data.Span), $"a {message.Length}-byte message came back different");
        }

        await replies.DisposeAsync();
        await client.CloseAsync();
        Assert.Equal(WebSocketCloseCode.NormalClosure, client.CloseInfo!.Code);
    }

    [Fact]
    public async Task The_server_sends_real_deflate_with_rsv1_only_above_the_threshold()
    {
        await using TestServer server = await StartDeflateServerAsync(c => c.MinimumMessageSize = 100);
        await using RawPeer peer = await RawPeer.ConnectAsync(server.Port);
        await peer.SendAsync(RawPeer.UpgradeRequest("/", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"));
        string head = await peer.ReadHttpHeadAsync();
        Assert.Contains("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n", head);

        byte[] json = Encoding.UTF8.GetBytes(Json);
        // A compressed message from the peer (made by DeflateStream), echoed back compressed by Tern.
        await peer.SendAsync(Protocol.FrameBuilder.Frame(Opcode.Text, Deflate.Compress(json), rsv: 0b100));
        var (opcode, _, payload) = (await peer.ReadFrameAsync())!.Value;
        Assert.Equal(0b100, peer.LastFrameRsv);
        Assert.Equal(1, opcode);
        Assert.True(payload.Length < json.Length / 5, $"{payload.Length} bytes for {json.Length}");
        Assert.Equal(json, Deflate.Decompress(payload));

        // Below the threshold: plain, RSV1 clear.
        await peer.SendFrameAsync(1, "tiny"u8);
        (opcode, _, payload) = (await peer.ReadFrameAsync())!.Value;
        Assert.Equal(0, peer.LastFrameRsv);
        Assert.Equal("tiny"u8.ToArray(), payload);

        // A ping with RSV1 is a protocol error: control frames are never compressed.
        await peer.SendAsync(Protocol.FrameBuilder.Frame(Opcode.Ping, [], rsv: 0b100));
        (opcode, _, payload) = (await peer.ReadFrameAsync())!.Value;
        Assert.Equal(8, opcode);
        Assert.Equal([0x03, 0xEA], payload[..2]);
    }

    [Fact]
    public async Task A_window_limit_of_8_is_accepted_and_honoured_by_sending_uncompressed()
    {
        await using TestServer server = await StartDeflateServerAsync(c => c.MinimumMessageSize = 0);
        await using RawPeer peer = await RawPeer.ConnectAsync(server.Port);
        await peer.SendAsync(RawPeer.UpgradeRequest("/", "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8"));
        Assert.Contains("server_max_window_bits=8", await peer.ReadHttpHeadAsync());
        byte[] json = Encoding.UTF8.GetBytes(Json);
        await peer.SendAsync(Protocol.FrameBuilder.Frame(Opcode.Text, Deflate.Compress(json), rsv: 0b100));
        var (_, _, payload) = (await peer.ReadFrameAsync())!.Value;
        Assert.Equal(0, peer.LastFrameRsv);
        Assert.Equal(json, payload);
    }

    [Fact]
    public async Task A_decompression_bomb_closes_with_1009_quickly()
    {
        // 64 MiB of zeros (~64 KiB compressed) against a 1 MiB limit.
        await using TestServer server = await TestServer.StartAsync(options: o => o.Compression = new WebSocketCompressionOptions());
        await using RawPeer peer = await RawPeer.ConnectAsync(server.Port);
        await peer.SendAsync(RawPeer.UpgradeRequest("/", "Sec-WebSocket-Extensions: permessage-deflate"));
        await peer.ReadHttpHeadAsync();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await peer.SendAsync(Protocol.FrameBuilder.Frame(Opcode.Binary, Deflate.Compress(new byte[64 << 20]), rsv: 0b100));
        var (opcode, _, payload) = (await peer.ReadFrameAsync())!.Value;
        Assert.Equal(8, opcode);
        Assert.Equal([0x03, 0xF1], payload[..2]);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task Without_compression_options_an_offer_is_declined_and_the_client_goes_on_uncompressed()
    {
        await using TestServer server = await TestServer.StartAsync();
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri(), new WebSocketClientOptions { Compression = new WebSocketCompressionOptions { MinimumMessageSize = 0 } });
        Assert.Null(client.Extensions);
        await client.SendTextAsync(Json);
        await foreach (WebSocketMessage reply in client.ReadMessagesAsync())
        {
            Assert.Equal(Json, reply.GetText());
            break;
        }
    }

    [Theory]
    [InlineData("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=16")]
    [InlineData("Sec-WebSocket-Extensions: permessage-deflate; x=1")]
    [InlineData("Sec-WebSocket-Extensions: x-unknown")]
    public async Task The_client_fails_a_handshake_whose_extension_answer_is_invalid(string answer)
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        Task serving = Task.Run(async () =>
        {
            using System.Net.Sockets.TcpClient accepted = await listener.AcceptTcpClientAsync();
            var reader = new StreamReader(accepted.GetStream(), Encoding.Latin1);
            string? key = null;
            for (string? line = await reader.ReadLineAsync(); !string.IsNullOrEmpty(line); line = await reader.ReadLineAsync())
            {
                if (line.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase))
                {
                    key = line[18..].Trim();
                }
            }

            string response = $"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {Handshake.ComputeAccept(key!)}\r\n{answer}\r\n\r\n";
            await accepted.GetStream().WriteAsync(Encoding.Latin1.GetBytes(response));
            await Task.Delay(500);
        });
        await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"), new WebSocketClientOptions { Compression = new WebSocketCompressionOptions() }));
        await serving.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task ClientWebSocket_with_DangerousDeflateOptions_echoes(bool contextTakeover, bool secure)
    {
        await using TestServer server = await StartDeflateServerAsync(c => (c.ServerContextTakeover, c.ClientContextTakeover, c.MinimumMessageSize) = (contextTakeover, contextTakeover, 0), secure: secure);
        Assert.Equal(secure ? "wss" : "ws", server.Uri("/").Scheme);
        using ClientWebSocket client = await server.ConnectClientAsync(configure: o =>
        {
            o.DangerousDeflateOptions = new WebSocketDeflateOptions { ServerContextTakeover = contextTakeover, ClientContextTakeover = contextTakeover, ClientMaxWindowBits = 12 };
            o.CollectHttpResponseDetails = true;
        });
        string answer = client.HttpResponseHeaders!["Sec-WebSocket-Extensions"].Single();
        Assert.StartsWith("permessage-deflate", answer);
        Assert.Equal(contextTakeover, !answer.Contains("no_context_takeover"));
        foreach (string text in new[] { "a", Json, Json + "ü", "", Json })
        {
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            await client.SendAsync(bytes, WebSocketMessageType.Text, true, CancellationToken.None);
            Assert.Equal(bytes, (await client.ReceiveMessageAsync()).Data);
        }

        // A message sent in fragments, compressed as one message.
        byte[] json = Encoding.UTF8.GetBytes(Json);
        await client.SendAsync(json.AsMemory(0, 1000), WebSocketMessageType.Text, WebSocketMessageFlags.None, CancellationToken.None);
        await client.SendAsync(json.AsMemory(1000), WebSocketMessageType.Text, WebSocketMessageFlags.EndOfMessage, CancellationToken.None);
        Assert.Equal(json, (await client.ReceiveMessageAsync()).Data);
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
    }

    [Fact]
    public async Task Broadcast_reaches_plain_pooled_takeover_and_8_bit_connections_alike()
    {
        await using TestServer server = await StartDeflateServerAsync(c => c.ServerContextTakeover = true, s => s.MapFallback(async (connection, ct) =>
        {
            await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
            {
            }
        }));
        var clients = new List<WebSocketConnection>
        {
            await WebSocketClient.ConnectAsync(server.Uri()),
            await WebSocketClient.ConnectAsync(server.Uri(), new WebSocketClientOptions { Compression = new WebSocketCompressionOptions() }),
            await WebSocketClient.ConnectAsync(server.Uri(), new WebSocketClientOptions { Compression = new WebSocketCompressionOptions { ServerContextTakeover = true } }),
            await WebSocketClient.ConnectAsync(server.Uri(), new WebSocketClientOptions { Compression = new WebSocketCompressionOptions { ServerMaxWindowBits = 8 } }),
            await WebSocketClient.ConnectAsync(server.Uri(), new WebSocketClientOptions { Compression = new WebSocketCompressionOptions { ServerMaxWindowBits = 10 } }),
        };
        try
        {
            await TestServer.WaitUntilAsync(() => server.Server.Connections.Count() == clients.Count);
            Assert.Null(clients[0].Extensions);
            Assert.DoesNotContain("server_no_context_takeover", clients[2].Extensions);
            for (int round = 0; round < 3; round++)
            {
                await server.Server.BroadcastTextAsync(Json + round);
                await server.Server.BroadcastTextAsync("small");
            }

            foreach (WebSocketConnection client in clients)
            {
                var received = new List<string>();
                await foreach (WebSocketMessage message in client.ReadMessagesAsync())
                {
                    received.Add(message.GetText());
                    if (received.Count == 6)
                    {
                        break;
                    }
                }

                Assert.Equal([Json + 0, "small", Json + 1, "small", Json + 2, "small"], received);
            }
        }
        finally
        {
            foreach (WebSocketConnection client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }
}
