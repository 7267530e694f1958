using System.Net.WebSockets;
using System.Text;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Interop;

/// <summary>
/// The ClientWebSocket cases that complete the interop matrix (docs/interop.md) next to
/// tests/Tern.Tests/Server/ClientWebSocketTests.cs: the same cases as the Node ws client where ClientWebSocket can
/// express them.
/// </summary>
public sealed class ClientWebSocketInteropTests
{
    private const int SixteenMiB = 16 * 1024 * 1024;

    [Fact]
    public async Task Text_of_16_MiB_echoes()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.MaxMessageSize = SixteenMiB);
        using ClientWebSocket client = await server.ConnectClientAsync();
        byte[] text = new byte[SixteenMiB];
        for (int i = 0; i < text.Length; i++)
        {
            text[i] = (byte)('a' + i % 26);
        }

        await client.SendAsync(text, WebSocketMessageType.Text, true, CancellationToken.None);
        (WebSocketMessageType type, byte[] echo) = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.True(text.AsSpan().SequenceEqual(echo), "the 16 MiB text came back different");
    }

    [Fact]
    public async Task Text_with_every_utf8_width_in_fragments_split_inside_code_points_echoes()
    {
        await using TestServer server = await TestServer.StartAsync();
        using ClientWebSocket client = await server.ConnectClientAsync();
        byte[] text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("ascii é € 𝄞 κόσμε 日本語 ", 50)));
        // Fragments of 7 bytes land inside 2-, 3- and 4-byte sequences.
        for (int offset = 0; offset < text.Length; offset += 7)
        {
            int length = Math.Min(7, text.Length - offset);
            await client.SendAsync(text.AsMemory(offset, length), WebSocketMessageType.Text, offset + length == text.Length, CancellationToken.None);
        }

        (WebSocketMessageType type, byte[] echo) = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal(text, echo);
    }

    [Fact]
    public async Task Client_pings_are_answered_with_pongs()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.KeepAliveInterval = TimeSpan.Zero);
        // With KeepAliveTimeout set, ClientWebSocket sends pings itself and aborts if a pong does not come back in time.
        using ClientWebSocket client = await server.ConnectClientAsync(configure: o =>
        {
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(100);
            o.KeepAliveTimeout = TimeSpan.FromMilliseconds(1000);
        });
        // Long enough for an unanswered first ping (sent at ~100 ms) to have aborted the client (by ~1.1 s).
        Task<WebSocketReceiveResult> receive = client.ReceiveAsync(new byte[64], CancellationToken.None);
        await Task.Delay(2000);
        Assert.Equal(WebSocketState.Open, client.State);
        await client.SendAsync("still here"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        Assert.Equal(10, (await receive.WaitAsync(TimeSpan.FromSeconds(10))).Count);
    }

    [Fact]
    public async Task Pipelined_messages_echo_in_order()
    {
        await using TestServer server = await TestServer.StartAsync();
        using ClientWebSocket client = await server.ConnectClientAsync();
        byte[][] messages = Enumerable.Range(0, 1000).Select(i =>
        {
            byte[] message = new byte[(i * 7919) % 3000];
            new Random(i).NextBytes(message);
            return message;
        }).ToArray();
        Task sending = Task.Run(async () =>
        {
            foreach (byte[] message in messages)
            {
                await client.SendAsync(message, WebSocketMessageType.Binary, true, CancellationToken.None);
            }
        });
        foreach (byte[] message in messages)
        {
            Assert.Equal(message, (await client.ReceiveMessageAsync()).Data);
        }

        await sending.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_permessage_deflate_offer_is_declined_and_messages_flow_uncompressed()
    {
        await using TestServer server = await TestServer.StartAsync();
        using ClientWebSocket client = await server.ConnectClientAsync(configure: o =>
        {
            o.DangerousDeflateOptions = new WebSocketDeflateOptions();
            o.CollectHttpResponseDetails = true;
        });
        Assert.False(client.HttpResponseHeaders?.ContainsKey("Sec-WebSocket-Extensions") ?? false, "the server accepted an extension it does not implement");
        byte[] text = Encoding.UTF8.GetBytes(new string('z', 10_000));
        await client.SendAsync(text, WebSocketMessageType.Text, true, CancellationToken.None);
        Assert.Equal(text, (await client.ReceiveMessageAsync()).Data);
    }
}
