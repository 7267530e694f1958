using System.Net;
using System.Net.WebSockets;
using System.Text;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Client;

public class WebSocketClientTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(65535)]
    [InlineData(65536)]
    [InlineData(4 * 1024 * 1024)]
    public async Task Echo_through_a_Tern_server_in_both_kinds(int length)
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.MaxMessageSize = 8 * 1024 * 1024);
        var options = new WebSocketClientOptions { MaxMessageSize = 8 * 1024 * 1024 };
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri("/echo?x=1"), options);
        Assert.Equal("/echo", client.Path);
        byte[] payload = new byte[length];
        new Random(length).NextBytes(payload);
        string text = new string('é', length / 2);
        await client.SendBinaryAsync(payload);
        await client.SendTextAsync(text);
        var received = new List<(bool IsText, byte[] Data)>();
        await foreach (WebSocketMessage message in client.ReadMessagesAsync())
        {
            received.Add((message.IsText, message.Data.ToArray()));
            if (received.Count == 2)
            {
                break;
            }
        }

        Assert.False(received[0].IsText);
        Assert.Equal(payload, received[0].Data);
        Assert.True(received[1].IsText);
        Assert.Equal(text, Encoding.UTF8.GetString(received[1].Data));
        await client.CloseAsync(WebSocketCloseCode.NormalClosure, "bye");
        Assert.Equal(WebSocketConnectionState.Closed, client.State);
        Assert.Equal(WebSocketCloseCode.NormalClosure, client.CloseInfo!.Code);
    }

    [Fact]
    public async Task Large_messages_keep_flowing_long_past_the_send_queue_limit()
    {
        // 300 × 128 KiB echoed = 37.5 MiB through a 4 MiB send queue: the queue must drain, not look full forever.
        await using TestServer server = await TestServer.StartAsync(options: o => o.MaxSendQueueSize = 4 * 1024 * 1024);
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri());
        byte[] payload = new byte[128 * 1024];
        new Random(7).NextBytes(payload);
        IAsyncEnumerator<WebSocketMessage> replies = client.ReadMessagesAsync().GetAsyncEnumerator();
        for (int i = 0; i < 300; i++)
        {
            await client.SendBinaryAsync(payload);
            Task<bool> next = replies.MoveNextAsync().AsTask();
            Assert.True(await Task.WhenAny(next, Task.Delay(10_000)) == next, $"echo {i} never came; queued on the client {client.QueuedBytes}, on the server {server.Server.Connections.Single().QueuedBytes}");
            Assert.True(await next);
            Assert.True(payload.AsSpan().SequenceEqual(replies.Current.Data.Span));
        }

        await replies.DisposeAsync();

        Assert.InRange(client.QueuedBytes, 0, payload.Length + 14);
        Assert.All(server.Server.Connections, c => Assert.InRange(c.QueuedBytes, 0, payload.Length + 14));
    }

    [Fact]
    public async Task Refused_handshake_says_why()
    {
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/only-here", (c, ct) => Task.CompletedTask));
        var e = await Assert.ThrowsAsync<WebSocketHandshakeException>(() => WebSocketClient.ConnectAsync(server.Uri("/elsewhere")));
        Assert.Contains("404", e.Message);
    }

    [Fact]
    public async Task Subprotocol_is_negotiated()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.Subprotocols.Add("chat.v2"));
        var options = new WebSocketClientOptions { Subprotocols = { "chat.v1", "chat.v2" } };
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri(), options);
        Assert.Equal("chat.v2", client.Subprotocol);
    }

    [Fact]
    public async Task Server_initiated_close_completes_on_the_client()
    {
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/", (c, ct) => c.CloseAsync(WebSocketCloseCode.PolicyViolation, "no thanks", ct)));
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri());
        await foreach (WebSocketMessage _ in client.ReadMessagesAsync())
        {
            Assert.Fail("no message expected");
        }

        Assert.Equal(WebSocketCloseCode.PolicyViolation, client.CloseInfo!.Code);
        Assert.Equal("no thanks", client.CloseInfo.Reason);
    }

    [Fact]
    public async Task Interoperates_with_an_independent_server()
    {
        // HttpListener's WebSocket support is the runtime's managed implementation, written independently of Tern.
        int port = GetFreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        Task serverSide = Task.Run(async () =>
        {
            HttpListenerContext context = await listener.GetContextAsync();
            HttpListenerWebSocketContext ws = await context.AcceptWebSocketAsync(null);
            var buffer = new byte[1 << 20];
            while (true)
            {
                WebSocketReceiveResult r = await ws.WebSocket.ReceiveAsync(buffer, CancellationToken.None);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    await ws.WebSocket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "ok", CancellationToken.None);
                    return;
                }

                await ws.WebSocket.SendAsync(buffer.AsMemory(0, r.Count), r.MessageType, r.EndOfMessage, CancellationToken.None);
            }
        });

        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/"));
        await client.SendTextAsync("across implementations ✓");
        await foreach (WebSocketMessage message in client.ReadMessagesAsync())
        {
            Assert.Equal("across implementations ✓", message.GetText());
            break;
        }

        await client.CloseAsync();
        await serverSide.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketCloseCode.NormalClosure, client.CloseInfo!.Code);
    }

    private static int GetFreePort()
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
