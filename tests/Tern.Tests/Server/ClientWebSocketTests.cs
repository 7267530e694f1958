using System.Net.WebSockets;
using System.Text;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>Interop with System.Net.WebSockets.ClientWebSocket, an independent implementation.</summary>
public class ClientWebSocketTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(65535)]
    [InlineData(65536)]
    [InlineData(16 * 1024 * 1024)]
    public async Task Binary_messages_of_every_length_form_echo(int length)
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.MaxMessageSize = 16 * 1024 * 1024);
        using ClientWebSocket client = await server.ConnectClientAsync();
        byte[] payload = new byte[length];
        new Random(length).NextBytes(payload);
        await client.SendAsync(payload, WebSocketMessageType.Binary, true, CancellationToken.None);
        (WebSocketMessageType type, byte[] data) = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal(payload, data);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(65535)]
    [InlineData(65536)]
    public async Task Text_messages_of_every_length_form_echo(int length)
    {
        await using TestServer server = await TestServer.StartAsync();
        using ClientWebSocket client = await server.ConnectClientAsync();
        string text = string.Concat(Enumerable.Range(0, length).Select(i => (char)('a' + (i % 26))));
        await client.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
        (WebSocketMessageType type, byte[] data) = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal(text, Encoding.UTF8.GetString(data));
    }

    [Fact]
    public async Task Fragmented_message_is_reassembled()
    {
        await using TestServer server = await TestServer.StartAsync();
        using ClientWebSocket client = await server.ConnectClientAsync();
        await client.SendAsync(Encoding.UTF8.GetBytes("Hello, "), WebSocketMessageType.Text, false, CancellationToken.None);
        await client.SendAsync(Encoding.UTF8.GetBytes("frag"), WebSocketMessageType.Text, false, CancellationToken.None);
        await client.SendAsync(Encoding.UTF8.GetBytes("ments ✓"), WebSocketMessageType.Text, true, CancellationToken.None);
        (_, byte[] data) = await client.ReceiveMessageAsync();
        Assert.Equal("Hello, fragments ✓", Encoding.UTF8.GetString(data));
    }

    [Fact]
    public async Task Client_close_is_echoed_and_the_server_sees_it()
    {
        var closed = new TaskCompletionSource<WebSocketCloseInfo?>();
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (c, ct) =>
        {
            await foreach (WebSocketMessage _ in c.ReadMessagesAsync(ct))
            {
            }

            closed.TrySetResult(c.CloseInfo);
        }));
        using ClientWebSocket client = await server.ConnectClientAsync();
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done here", CancellationToken.None);
        Assert.Equal(WebSocketState.Closed, client.State);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
        WebSocketCloseInfo? info = await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseCode.NormalClosure, info!.Code);
        Assert.Equal("done here", info.Reason);
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 0, because: "the connection to be released");
    }

    [Fact]
    public async Task Server_close_reaches_the_client_with_code_and_reason()
    {
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (c, ct) =>
        {
            await c.SendTextAsync("bye soon", ct);
            await c.CloseAsync((WebSocketCloseCode)4001, "policy of the test", ct);
        }));
        using ClientWebSocket client = await server.ConnectClientAsync();
        (_, byte[] data) = await client.ReceiveMessageAsync();
        Assert.Equal("bye soon", Encoding.UTF8.GetString(data));
        var buffer = new byte[16];
        WebSocketReceiveResult result = await client.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal((WebSocketCloseStatus)4001, result.CloseStatus);
        Assert.Equal("policy of the test", result.CloseStatusDescription);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 0, because: "the connection to be released");
    }

    [Fact]
    public async Task Keepalive_pings_are_answered_by_the_client()
    {
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            // A timeout with room for a loaded machine; an unanswered ping still drops the client well within the wait.
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(100);
            o.KeepAliveTimeout = TimeSpan.FromMilliseconds(1000);
        });
        using ClientWebSocket client = await server.ConnectClientAsync();
        // ClientWebSocket answers pings only while a receive is pending, as a real reader would be.
        var receive = client.ReceiveAsync(new byte[16], CancellationToken.None);
        await Task.Delay(2000);
        Assert.Equal(WebSocketState.Open, client.State);
        Assert.Equal(1, server.Server.ConnectionCount);
        await client.SendAsync("still here"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        Assert.Equal(10, (await receive).Count);
    }

    [Fact]
    public async Task Many_concurrent_senders_never_interleave_frames()
    {
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", async (c, ct) =>
        {
            await Parallel.ForAsync(0, 400, ct, async (i, token) => await c.SendTextAsync($"message {i} " + new string('x', i * 37), token));
            await c.CloseAsync();
        }));
        using ClientWebSocket client = await server.ConnectClientAsync();
        var seen = new HashSet<int>();
        while (true)
        {
            var buffer = new byte[1 << 16];
            var data = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                result = await client.ReceiveAsync(buffer, CancellationToken.None);
                data.Write(buffer, 0, result.Count);
            }
            while (!result.EndOfMessage);

            if (result.MessageType == WebSocketMessageType.Close)
            {
                break;
            }

            string text = Encoding.UTF8.GetString(data.ToArray());
            string[] parts = text.Split(' ');
            int i = int.Parse(parts[1]);
            Assert.Equal(new string('x', i * 37), parts[2]);
            Assert.True(seen.Add(i));
        }

        Assert.Equal(400, seen.Count);
    }
}
