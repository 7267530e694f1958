using System.Net;
using System.Net.WebSockets;
using System.Text;

namespace Tern.Chat.Tests.Web;

/// <summary>The WebSocket handshake check and the Host check, over real sockets.</summary>
public sealed class ChatWebHandshakeTests : WebServerTest
{
    [Fact]
    public async Task A_valid_session_cookie_opens_the_socket_as_its_account()
    {
        string cookie = await Server.SignUpAsync("alice");
        using ClientWebSocket socket = NewSocket(cookie, Server.Origin);

        await socket.ConnectAsync(Server.WebSocketUrl, Timeout());

        Assert.Equal(HttpStatusCode.SwitchingProtocols, socket.HttpStatusCode);
        Assert.Equal("alice", await ReceiveTextAsync(socket)); // the handler read the account from the connection's items
    }

    [Fact]
    public async Task No_cookie_gets_401()
    {
        using ClientWebSocket socket = NewSocket(cookie: null, Server.Origin);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(Server.WebSocketUrl, Timeout()));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);
    }

    [Theory]
    [InlineData("tern_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("tern_session=garbage")]
    [InlineData("other=1")]
    public async Task An_unknown_session_gets_401(string cookie)
    {
        using ClientWebSocket socket = NewSocket(cookie, Server.Origin);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(Server.WebSocketUrl, Timeout()));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);
    }

    [Fact]
    public async Task A_signed_out_session_gets_401()
    {
        string cookie = await Server.SignUpAsync("alice");
        (await Server.PostAsync("/api/logout", null, cookie)).Dispose();

        using ClientWebSocket socket = NewSocket(cookie, Server.Origin);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(Server.WebSocketUrl, Timeout()));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);
    }

    [Theory]
    [InlineData("http://evil.example")]
    [InlineData(null)]
    public async Task A_foreign_or_missing_origin_gets_403_even_with_a_valid_cookie(string? origin)
    {
        string cookie = await Server.SignUpAsync("alice");
        using ClientWebSocket socket = NewSocket(cookie, origin);

        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(Server.WebSocketUrl, Timeout()));

        Assert.Equal(HttpStatusCode.Forbidden, socket.HttpStatusCode);
    }

    [Fact]
    public async Task A_bad_host_gets_400_before_anything_else()
    {
        string cookie = await Server.SignUpAsync("alice");

        string answer = await Server.SendRawAsync(WebTestServer.Upgrade($"evil.example:{Server.Port}", "http://evil.example", cookie));
        Assert.StartsWith("HTTP/1.1 400 ", answer, StringComparison.Ordinal);

        // The same request with the real host is accepted: the host alone made the difference.
        string accepted = await ReadHeadAsync(WebTestServer.Upgrade($"127.0.0.1:{Server.Port}", Server.Origin, cookie));
        Assert.StartsWith("HTTP/1.1 101 ", accepted, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoking_the_session_closes_the_open_socket_with_4001()
    {
        string cookie = await Server.SignUpAsync("alice");
        using ClientWebSocket socket = NewSocket(cookie, Server.Origin);
        await socket.ConnectAsync(Server.WebSocketUrl, Timeout());
        Assert.Equal("alice", await ReceiveTextAsync(socket));

        (await Server.PostAsync("/api/logout", new { everywhere = false }, cookie)).Dispose();

        WebSocketReceiveResult result = await socket.ReceiveAsync(new byte[256], Timeout());
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(4001, (int)socket.CloseStatus!.Value);
    }

    [Theory]
    [InlineData("/api/session")]
    [InlineData("/")]
    public async Task Plain_requests_for_a_bad_host_get_400(string path)
    {
        string answer = await Server.SendRawAsync($"GET {path} HTTP/1.1\r\nHost: rebound.example\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 400 ", answer, StringComparison.Ordinal);
        string good = await Server.SendRawAsync($"GET {path} HTTP/1.1\r\nHost: localhost:{Server.Port}\r\n\r\n");
        Assert.DoesNotContain("HTTP/1.1 400 ", good, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Any_host_is_allowed_with_a_star()
    {
        await using WebTestServer open = await WebTestServer.StartAsync(o => o.AllowedHosts = ["*"]);
        string answer = await open.SendRawAsync("GET / HTTP/1.1\r\nHost: anything.example\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", answer, StringComparison.Ordinal);
    }

    private static ClientWebSocket NewSocket(string? cookie, string? origin)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        if (cookie is not null)
        {
            socket.Options.SetRequestHeader("Cookie", cookie);
        }

        if (origin is not null)
        {
            socket.Options.SetRequestHeader("Origin", origin);
        }

        return socket;
    }

    private static async Task<string> ReceiveTextAsync(ClientWebSocket socket)
    {
        byte[] buffer = new byte[1024];
        WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, Timeout());
        Assert.Equal(WebSocketMessageType.Text, result.MessageType);
        return Encoding.UTF8.GetString(buffer, 0, result.Count);
    }

    /// <summary>Sends a request and reads only the response head (an accepted upgrade stays open).</summary>
    private async Task<string> ReadHeadAsync(string request)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, Server.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        var head = new StringBuilder();
        byte[] buffer = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(buffer, Timeout()) == 1)
        {
            head.Append((char)buffer[0]);
        }

        return head.ToString();
    }

    private static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token;
}
