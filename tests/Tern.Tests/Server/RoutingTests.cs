using System.Net;
using System.Net.WebSockets;
using System.Text;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>Map (exact, case-sensitive path, query ignored), MapFallback, and 404 when nothing matches.</summary>
public sealed class RoutingTests
{
    [Theory]
    [InlineData("/chat", "chat /chat")]
    [InlineData("/chat?room=7", "chat /chat room=7")]
    [InlineData("/news", "news /news")]
    [InlineData("/Chat", "fallback /Chat")]
    [InlineData("/chat/", "fallback /chat/")]
    [InlineData("/anything/else", "fallback /anything/else")]
    public async Task Each_path_reaches_its_route_or_the_fallback(string path, string expected)
    {
        await using TestServer server = await TestServer.StartAsync(s =>
        {
            s.Map("/chat", Announce("chat"));
            s.Map("/news", Announce("news"));
            s.MapFallback(Announce("fallback"));
        });
        using ClientWebSocket client = await server.ConnectClientAsync(path);
        (_, byte[] greeting) = await client.ReceiveMessageAsync();
        Assert.Equal(expected, Encoding.UTF8.GetString(greeting));
    }

    [Fact]
    public async Task An_unknown_path_without_a_fallback_gets_404_and_the_socket_is_closed()
    {
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/chat", Announce("chat")));
        RawHttpResponse response = await RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest("/nope"));
        Assert.Equal(404, response.StatusCode);
        Assert.Contains("/nope", response.Body);
        Assert.Equal("close", response.Headers["connection"]);
        Assert.Equal(0, server.Server.ConnectionCount);
    }

    [Fact]
    public async Task ClientWebSocket_sees_the_404()
    {
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/chat", Announce("chat")));
        using var client = new ClientWebSocket();
        client.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => client.ConnectAsync(server.Uri("/other"), new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token));
        Assert.Equal(HttpStatusCode.NotFound, client.HttpStatusCode);
    }

    [Fact]
    public async Task Routes_cannot_change_once_the_server_has_started()
    {
        await using TestServer server = await TestServer.StartAsync(s => s.Map("/chat", Announce("chat")));
        Assert.Throws<InvalidOperationException>(() => server.Server.Map("/late", Announce("late")));
        Assert.Throws<InvalidOperationException>(() => server.Server.MapFallback(Announce("late")));
        await Assert.ThrowsAsync<InvalidOperationException>(() => server.Server.StartAsync());
    }

    private static Func<WebSocketConnection, CancellationToken, Task> Announce(string route) => async (connection, ct) =>
    {
        string query = string.Join('&', connection.Query.Select(p => $"{p.Key}={p.Value}"));
        await connection.SendTextAsync($"{route} {connection.Path}{(query.Length > 0 ? " " + query : "")}", ct);
        await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
        {
        }
    };
}
