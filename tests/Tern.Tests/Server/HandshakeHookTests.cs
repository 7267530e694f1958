using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>OnHandshake: refuse with 401/403 from headers, query or cookies; carry Items; choose the subprotocol; origins.</summary>
public sealed class HandshakeHookTests
{
    [Fact]
    public async Task The_hook_refuses_with_401_or_403_and_lets_good_requests_through_with_their_Items()
    {
        await using TestServer server = await TestServer.StartAsync(ReportItems, o => o.OnHandshake = (context, ct) =>
        {
            if (!context.Query.TryGetValue("token", out string? token))
            {
                context.Reject(401, "A token is required.");
            }
            else if (token != "s3cret" || context.Cookies.GetValueOrDefault("role") == "banned")
            {
                context.Reject(403, "This token may not connect.");
            }
            else
            {
                context.Items["user"] = "alice";
                context.Items["api-key"] = context.Request.Headers["X-Api-Key"];
            }

            return ValueTask.CompletedTask;
        });

        RawHttpResponse noToken = await RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest("/"));
        Assert.Equal(401, noToken.StatusCode);
        Assert.Contains("A token is required.", noToken.Body);

        RawHttpResponse wrongToken = await RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest("/?token=guess"));
        Assert.Equal(403, wrongToken.StatusCode);
        Assert.Contains("This token may not connect.", wrongToken.Body);

        RawHttpResponse banned = await RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest("/?token=s3cret", "Cookie: theme=dark; role=banned"));
        Assert.Equal(403, banned.StatusCode);

        using ClientWebSocket client = await server.ConnectClientAsync("/?token=s3cret", o => o.SetRequestHeader("X-Api-Key", "k-42"));
        (_, byte[] items) = await client.ReceiveMessageAsync();
        Assert.Equal("api-key=k-42;user=alice", Encoding.UTF8.GetString(items));
        Assert.Equal(1, server.Server.ConnectionCount);
    }

    [Fact]
    public async Task ClientWebSocket_sees_the_hook_status()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.OnHandshake = (context, ct) =>
        {
            context.Reject(403, "No.");
            return ValueTask.CompletedTask;
        });
        using var client = new ClientWebSocket();
        client.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => client.ConnectAsync(server.Uri(), new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token));
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, client.HttpStatusCode);
    }

    [Fact]
    public async Task Subprotocol_follows_server_preference_and_the_hook_can_override_it()
    {
        await using TestServer server = await TestServer.StartAsync(ReportSubprotocol, o =>
        {
            o.Subprotocols.Add("chat.v1");
            o.Subprotocols.Add("chat.v2");
            o.OnHandshake = (context, ct) =>
            {
                Assert.Equal("chat.v1", context.Subprotocol); // preset from the server's preference
                if (context.Query.ContainsKey("newest"))
                {
                    context.Subprotocol = context.OfferedSubprotocols[0];
                }

                return ValueTask.CompletedTask;
            };
        });

        using ClientWebSocket byPreference = await server.ConnectClientAsync("/", o => { o.AddSubProtocol("chat.v2"); o.AddSubProtocol("chat.v1"); });
        Assert.Equal("chat.v1", byPreference.SubProtocol);
        Assert.Equal("chat.v1", Encoding.UTF8.GetString((await byPreference.ReceiveMessageAsync()).Data));

        using ClientWebSocket byHook = await server.ConnectClientAsync("/?newest", o => { o.AddSubProtocol("chat.v2"); o.AddSubProtocol("chat.v1"); });
        Assert.Equal("chat.v2", byHook.SubProtocol);
        Assert.Equal("chat.v2", Encoding.UTF8.GetString((await byHook.ReceiveMessageAsync()).Data));
    }

    [Fact]
    public async Task No_common_subprotocol_or_one_cleared_by_the_hook_means_no_Sec_WebSocket_Protocol()
    {
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.Subprotocols.Add("chat.v1");
            o.OnHandshake = (context, ct) =>
            {
                if (context.Query.ContainsKey("clear"))
                {
                    context.Subprotocol = null;
                }

                return ValueTask.CompletedTask;
            };
        });
        await using RawPeer other = await RawPeer.ConnectAsync(server.Port);
        await other.SendAsync(RawPeer.UpgradeRequest("/", "Sec-WebSocket-Protocol: mqtt"));
        string head = await other.ReadHttpHeadAsync();
        Assert.StartsWith("HTTP/1.1 101", head);
        Assert.DoesNotContain("Sec-WebSocket-Protocol", head, StringComparison.OrdinalIgnoreCase);

        await using RawPeer cleared = await RawPeer.ConnectAsync(server.Port);
        await cleared.SendAsync(RawPeer.UpgradeRequest("/?clear", "Sec-WebSocket-Protocol: chat.v1"));
        head = await cleared.ReadHttpHeadAsync();
        Assert.StartsWith("HTTP/1.1 101", head);
        Assert.DoesNotContain("Sec-WebSocket-Protocol", head, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_hook_that_picks_an_unoffered_subprotocol_or_throws_gets_500()
    {
        var log = new RecordingLoggerFactory();
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.LoggerFactory = log;
            o.OnHandshake = (context, ct) =>
            {
                if (context.Query.ContainsKey("throw"))
                {
                    throw new InvalidOperationException("hook bug");
                }

                context.Subprotocol = "never-offered";
                return ValueTask.CompletedTask;
            };
        });
        Assert.Equal(500, (await RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest("/", "Sec-WebSocket-Protocol: a, b"))).StatusCode);
        Assert.Equal(500, (await RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest("/?throw"))).StatusCode);
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Error && e.Exception?.Message == "hook bug");
        Assert.Equal(0, server.Server.ConnectionCount);
    }

    [Fact]
    public async Task The_hook_adds_headers_to_the_101()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.OnHandshake = (context, ct) =>
        {
            context.ResponseHeaders.Add(new("Set-Cookie", "session=abc; HttpOnly"));
            return ValueTask.CompletedTask;
        });
        await using RawPeer peer = await RawPeer.ConnectAsync(server.Port);
        await peer.SendAsync(RawPeer.UpgradeRequest("/"));
        string head = await peer.ReadHttpHeadAsync();
        Assert.StartsWith("HTTP/1.1 101", head);
        Assert.Contains("\r\nSet-Cookie: session=abc; HttpOnly\r\n", head);
    }

    [Fact]
    public async Task AllowedOrigins_refuses_other_origins_with_403_before_the_hook()
    {
        int hookCalls = 0;
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.AllowedOrigins.Add("https://chat.example");
            o.OnHandshake = (context, ct) =>
            {
                Interlocked.Increment(ref hookCalls);
                return ValueTask.CompletedTask;
            };
        });
        Assert.Equal(403, (await RawPeer.ExchangeHttpAsync(server.Port, RawPeer.UpgradeRequest("/", "Origin: https://evil.example"))).StatusCode);
        Assert.Equal(0, hookCalls);

        await using RawPeer allowed = await RawPeer.ConnectAsync(server.Port);
        await allowed.SendAsync(RawPeer.UpgradeRequest("/", "Origin: https://chat.example"));
        Assert.StartsWith("HTTP/1.1 101", await allowed.ReadHttpHeadAsync());

        // Non-browser clients send no Origin and are not subject to the check.
        using ClientWebSocket noOrigin = await server.ConnectClientAsync();
        Assert.Equal(WebSocketState.Open, noOrigin.State);
        Assert.Equal(2, hookCalls);
    }

    private static void ReportItems(WebSocketServer server) => server.MapFallback(async (connection, ct) =>
    {
        await connection.SendTextAsync(string.Join(';', connection.Items.OrderBy(i => i.Key, StringComparer.Ordinal).Select(i => $"{i.Key}={i.Value}")), ct);
        await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
        {
        }
    });

    private static void ReportSubprotocol(WebSocketServer server) => server.MapFallback(async (connection, ct) =>
    {
        await connection.SendTextAsync(connection.Subprotocol ?? "(none)", ct);
        await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
        {
        }
    });
}
