using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Tern.Http;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>Requests that are not upgrades: 426 without an HttpHandler, the handler's response with one.</summary>
public sealed class HttpHookTests
{
    private const string PlainGet = "GET /page?lang=en HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n\r\n";

    [Fact]
    public async Task Without_an_HttpHandler_a_plain_GET_gets_426_naming_the_upgrade()
    {
        await using TestServer server = await TestServer.StartAsync();
        RawHttpResponse response = await RawPeer.ExchangeHttpAsync(server.Port, PlainGet);
        Assert.Equal(426, response.StatusCode);
        Assert.Equal("websocket", response.Headers["upgrade"]);
        Assert.Equal("13", response.Headers["sec-websocket-version"]);
        Assert.Equal("close", response.Headers["connection"]);
        Assert.Equal(Encoding.UTF8.GetByteCount(response.Body), int.Parse(response.Headers["content-length"], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("WebSocket", response.Body);
    }

    [Fact]
    public async Task With_an_HttpHandler_a_plain_GET_gets_the_handler_response()
    {
        HttpRequestContext? seen = null;
        await using TestServer server = await TestServer.StartAsync(options: o => o.HttpHandler = async (context, ct) =>
        {
            seen = context;
            var response = new HttpResponse(200, Encoding.UTF8.GetBytes("<h1>hello</h1>"), "text/html; charset=utf-8");
            response.Headers.Add(new("Cache-Control", "no-store"));
            await context.RespondAsync(response, ct);
        });
        RawHttpResponse answer = await RawPeer.ExchangeHttpAsync(server.Port, PlainGet);
        Assert.Equal(200, answer.StatusCode);
        Assert.Equal("<h1>hello</h1>", answer.Body);
        Assert.Equal("text/html; charset=utf-8", answer.Headers["content-type"]);
        Assert.Equal("14", answer.Headers["content-length"]);
        Assert.Equal("no-store", answer.Headers["cache-control"]);
        Assert.Equal("close", answer.Headers["connection"]);
        Assert.NotNull(seen);
        Assert.Equal("GET", seen.Request.Method);
        Assert.Equal("/page", seen.Request.Path);
        Assert.Equal("en", seen.Request.Query["lang"]);
        Assert.Equal("text/html", seen.Request.Headers["accept"]);
    }

    [Fact]
    public async Task HEAD_gets_the_headers_of_GET_without_the_body()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.HttpHandler = (context, ct) =>
            context.RespondAsync(new HttpResponse(200, Encoding.UTF8.GetBytes("twelve bytes"), "text/plain"), ct));
        RawHttpResponse answer = await RawPeer.ExchangeHttpAsync(server.Port, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.Equal(200, answer.StatusCode);
        Assert.Equal("12", answer.Headers["content-length"]);
        Assert.Equal("", answer.Body);
    }

    [Fact]
    public async Task A_handler_that_does_not_respond_leaves_404_and_one_that_throws_gives_500()
    {
        var log = new RecordingLoggerFactory();
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.LoggerFactory = log;
            o.HttpHandler = (context, ct) => context.Request.Path == "/throw" ? throw new InvalidOperationException("handler bug") : ValueTask.CompletedTask;
        });
        Assert.Equal(404, (await RawPeer.ExchangeHttpAsync(server.Port, "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")).StatusCode);
        Assert.Equal(500, (await RawPeer.ExchangeHttpAsync(server.Port, "GET /throw HTTP/1.1\r\nHost: x\r\n\r\n")).StatusCode);
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Error && e.Exception?.Message == "handler bug");
    }

    [Fact]
    public async Task Upgrades_still_reach_the_WebSocket_routes_when_an_HttpHandler_is_set()
    {
        int httpCalls = 0;
        await using TestServer server = await TestServer.StartAsync(options: o => o.HttpHandler = (context, ct) =>
        {
            Interlocked.Increment(ref httpCalls);
            return context.RespondAsync(HttpResponse.Text(200, "page"), ct);
        });
        using ClientWebSocket client = await server.ConnectClientAsync("/page");
        await client.SendAsync("ping me"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        (_, byte[] echo) = await client.ReceiveMessageAsync();
        Assert.Equal("ping me", Encoding.UTF8.GetString(echo));
        Assert.Equal(0, httpCalls);
        Assert.Equal(200, (await RawPeer.ExchangeHttpAsync(server.Port, PlainGet)).StatusCode);
        Assert.Equal(1, httpCalls);
    }
}
