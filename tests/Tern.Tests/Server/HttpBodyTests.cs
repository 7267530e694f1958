using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Tern.Http;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>
/// Plain HTTP requests with bodies, over loopback: Content-Length bodies reach the handler exactly however TCP splits
/// them; every other framing, an oversized body and a slow one are refused without calling the handler.
/// </summary>
public sealed class HttpBodyTests
{
    /// <summary>Every byte value, so a body cut, shifted or decoded on the way shows.</summary>
    private static readonly byte[] BinaryBody = [.. Enumerable.Range(0, 300).Select(i => (byte)(i * 7))];

    /// <summary>A server whose handler records each request's body and answers 200 with its length.</summary>
    private sealed class Recorder
    {
        public List<(string Method, byte[] Body)> Requests { get; } = [];

        public long BufferedDuringHandler { get; private set; } = -1;

        public async ValueTask HandleAsync(HttpRequestContext context, CancellationToken ct, WebSocketServer? server = null)
        {
            lock (Requests)
            {
                Requests.Add((context.Request.Method, context.Body.ToArray()));
            }

            BufferedDuringHandler = server?.BufferedBytes ?? -1;
            await context.RespondAsync(HttpResponse.Text(200, $"got {context.Body.Length}"), ct);
        }
    }

    private static async Task<(TestServer Server, Recorder Recorder)> StartAsync(Action<WebSocketServerOptions>? configure = null)
    {
        var recorder = new Recorder();
        WebSocketServer? server = null;
        TestServer testServer = await TestServer.StartAsync(options: o =>
        {
            o.HttpHandler = (context, ct) => recorder.HandleAsync(context, ct, server);
            configure?.Invoke(o);
        });
        server = testServer.Server;
        return (testServer, recorder);
    }

    private static byte[] Post(byte[] body, string path = "/api/upload", string method = "POST") =>
        [.. Encoding.ASCII.GetBytes($"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\n\r\n"), .. body];

    private static async Task<RawHttpResponse> ExchangeAsync(int port, byte[] request)
    {
        await using RawPeer peer = await RawPeer.ConnectAsync(port);
        await peer.SendAsync(request);
        return await peer.ReadHttpResponseAsync();
    }

    /// <summary>Sends <paramref name="request"/> to a new server; asserts the status and that the handler never ran.</summary>
    private static async Task<RawHttpResponse> RefusedAsync(string request, int expectedStatus)
    {
        (TestServer server, Recorder recorder) = await StartAsync();
        await using TestServer _ = server;
        RawHttpResponse response = await RawPeer.ExchangeHttpAsync(server.Port, request);
        Assert.Equal(expectedStatus, response.StatusCode);
        Assert.Empty(recorder.Requests);
        return response;
    }

    [Fact]
    public async Task A_body_sent_with_the_head_in_one_write_reaches_the_handler_exactly()
    {
        (TestServer server, Recorder recorder) = await StartAsync();
        await using TestServer _ = server;

        RawHttpResponse response = await ExchangeAsync(server.Port, Post(BinaryBody));

        Assert.Equal(200, response.StatusCode);
        Assert.Equal("got 300\n", response.Body);
        (string method, byte[] body) = Assert.Single(recorder.Requests);
        Assert.Equal("POST", method);
        Assert.Equal(BinaryBody, body);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(64)]
    public async Task A_request_sent_in_many_small_writes_reaches_the_handler_exactly(int writeSize)
    {
        (TestServer server, Recorder recorder) = await StartAsync();
        await using TestServer _ = server;
        byte[] request = Post(BinaryBody);

        await using RawPeer peer = await RawPeer.ConnectAsync(server.Port);
        for (int offset = 0; offset < request.Length; offset += writeSize)
        {
            await peer.SendAsync(request[offset..Math.Min(request.Length, offset + writeSize)]);
            await Task.Delay(1);        // let the server read what is there, so the writes arrive as separate reads
        }

        RawHttpResponse response = await peer.ReadHttpResponseAsync();
        Assert.Equal(200, response.StatusCode);
        Assert.Equal(BinaryBody, Assert.Single(recorder.Requests).Body);
    }

    [Fact]
    public async Task Part_of_the_body_arriving_with_the_head_and_the_rest_later_is_joined_in_order()
    {
        (TestServer server, Recorder recorder) = await StartAsync();
        await using TestServer _ = server;
        byte[] request = Post(BinaryBody);
        int split = request.Length - BinaryBody.Length + 100;

        await using RawPeer peer = await RawPeer.ConnectAsync(server.Port);
        await peer.SendAsync(request[..split]);
        await Task.Delay(100);
        Assert.Empty(recorder.Requests);            // the handler waits for the whole body
        await peer.SendAsync(request[split..]);

        Assert.Equal(200, (await peer.ReadHttpResponseAsync()).StatusCode);
        Assert.Equal(BinaryBody, Assert.Single(recorder.Requests).Body);
    }

    [Fact]
    public async Task Bytes_after_the_declared_length_are_not_part_of_the_body()
    {
        (TestServer server, Recorder recorder) = await StartAsync();
        await using TestServer _ = server;

        RawHttpResponse response = await ExchangeAsync(server.Port, [.. Post("hello"u8.ToArray()), .. "GET /next HTTP/1.1\r\n\r\n"u8]);

        Assert.Equal(200, response.StatusCode);
        Assert.Equal("hello"u8.ToArray(), Assert.Single(recorder.Requests).Body);
    }

    [Fact]
    public async Task A_JSON_login_gets_its_body_as_text_and_a_JSON_answer_with_two_cookies()
    {
        string? seenText = null;
        string? seenType = null;
        await using TestServer server = await TestServer.StartAsync(options: o => o.HttpHandler = async (context, ct) =>
        {
            seenText = context.GetBodyText();
            seenType = context.Request.Headers["Content-Type"];
            using JsonDocument login = JsonDocument.Parse(context.Body);
            string name = login.RootElement.GetProperty("name").GetString()!;
            HttpResponse response = HttpResponse.Json(201, JsonSerializer.SerializeToUtf8Bytes(new { welcome = name }));
            response.Headers.Add(new("Set-Cookie", "session=abc; HttpOnly; Path=/"));
            response.Headers.Add(new("Set-Cookie", "name=Zoë; Path=/"));
            await context.RespondAsync(response, ct);
        });
        const string Json = """{"name":"Zoë","password":"p"}""";
        byte[] body = Encoding.UTF8.GetBytes(Json);
        string head = $"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n";

        RawHttpResponse response = await ExchangeAsync(server.Port, [.. Encoding.ASCII.GetBytes(head), .. body]);

        Assert.Equal(201, response.StatusCode);
        Assert.StartsWith("HTTP/1.1 201 Created\r\n", response.Head);
        Assert.Equal("application/json", response.Headers["content-type"]);
        Assert.Equal("""{"welcome":"Zo\u00EB"}""", response.Body);
        Assert.Contains("\r\nSet-Cookie: session=abc; HttpOnly; Path=/\r\n", response.Head);
        Assert.Contains("\r\nSet-Cookie: name=Zo\u00EB; Path=/\r\n", response.Head);
        Assert.Equal(Json, seenText);
        Assert.Equal("application/json", seenType);
    }

    [Fact]
    public async Task A_zero_length_body_calls_the_handler_with_an_empty_body()
    {
        (TestServer server, Recorder recorder) = await StartAsync();
        await using TestServer _ = server;

        RawHttpResponse response = await RawPeer.ExchangeHttpAsync(server.Port, "POST /api/logout HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");

        Assert.Equal(200, response.StatusCode);
        Assert.Empty(Assert.Single(recorder.Requests).Body);
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    public async Task A_GET_or_HEAD_body_is_read_and_dropped(string method)
    {
        (TestServer server, Recorder recorder) = await StartAsync();
        await using TestServer _ = server;

        RawHttpResponse response = await ExchangeAsync(server.Port, Post("ignored"u8.ToArray(), "/page", method));

        Assert.Equal(200, response.StatusCode);
        (string seenMethod, byte[] body) = Assert.Single(recorder.Requests);
        Assert.Equal(method, seenMethod);
        Assert.Empty(body);
    }

    [Fact]
    public async Task A_GET_body_still_waits_for_its_bytes_and_counts_against_the_limit()
    {
        (TestServer server, Recorder recorder) = await StartAsync(o => o.MaxRequestBodySize = 10);
        await using TestServer _ = server;

        Assert.Equal(413, (await RawPeer.ExchangeHttpAsync(server.Port, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n")).StatusCode);

        await using RawPeer peer = await RawPeer.ConnectAsync(server.Port);
        await peer.SendAsync("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab");
        await Task.Delay(100);
        Assert.Empty(recorder.Requests);
        await peer.SendAsync("cde");
        Assert.Equal(200, (await peer.ReadHttpResponseAsync()).StatusCode);
        Assert.Single(recorder.Requests);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_body_over_the_limit_gets_413_from_its_Content_Length(bool sendTheBody)
    {
        (TestServer server, Recorder recorder) = await StartAsync(o => o.MaxRequestBodySize = 1000);
        await using TestServer _ = server;
        byte[] request = Post(new byte[1001]);

        await using RawPeer peer = await RawPeer.ConnectAsync(server.Port);
        await peer.SendAsync(sendTheBody ? request : request[..(request.Length - 1001)]);
        RawHttpResponse response = await peer.ReadHttpResponseAsync();

        Assert.Equal(413, response.StatusCode);
        Assert.StartsWith("HTTP/1.1 413 Content Too Large\r\n", response.Head);
        Assert.Contains("1000 bytes", response.Body);
        Assert.Empty(recorder.Requests);
    }

    [Fact]
    public async Task A_body_of_exactly_the_limit_is_accepted_and_the_default_limit_is_64_KiB()
    {
        Assert.Equal(64 * 1024, new WebSocketServerOptions().MaxRequestBodySize);
        (TestServer server, Recorder recorder) = await StartAsync();
        await using TestServer _ = server;

        Assert.Equal(200, (await ExchangeAsync(server.Port, Post(new byte[64 * 1024]))).StatusCode);
        Assert.Equal(413, (await ExchangeAsync(server.Port, Post(new byte[(64 * 1024) + 1]))).StatusCode);
        Assert.Equal(64 * 1024, Assert.Single(recorder.Requests).Body.Length);
    }

    [Fact]
    public async Task A_zero_limit_accepts_empty_bodies_only()
    {
        (TestServer server, Recorder recorder) = await StartAsync(o => o.MaxRequestBodySize = 0);
        await using TestServer _ = server;

        Assert.Equal(413, (await ExchangeAsync(server.Port, Post("x"u8.ToArray()))).StatusCode);
        Assert.Equal(200, (await ExchangeAsync(server.Port, Post([]))).StatusCode);
        Assert.Single(recorder.Requests);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    public async Task A_method_with_a_body_but_no_Content_Length_gets_411(string method)
    {
        RawHttpResponse response = await RefusedAsync($"{method} /api HTTP/1.1\r\nHost: x\r\n\r\n", 411);

        Assert.StartsWith("HTTP/1.1 411 Length Required\r\n", response.Head);
    }

    [Fact]
    public async Task A_chunked_body_gets_501_saying_it_is_not_implemented()
    {
        RawHttpResponse response = await RefusedAsync(
            "POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501);

        Assert.Contains("Transfer-Encoding", response.Body);
        Assert.Contains("not implemented", response.Body);
    }

    [Theory]
    [InlineData("Content-Length: abc")]
    [InlineData("Content-Length: +5")]
    [InlineData("Content-Length: 5, 5")]
    [InlineData("Content-Length: 5\r\nContent-Length: 6")]
    [InlineData("Content-Length: 5\r\nContent-Length: 5")]
    [InlineData("Content-Length: 99999999999999999999")]
    [InlineData("Content-Length: 5\r\nTransfer-Encoding: chunked")]
    [InlineData("Transfer-Encoding: chunked\r\nContent-Length: 5")]
    public async Task Content_Length_that_cannot_be_trusted_gets_400(string fields)
    {
        await RefusedAsync($"POST /api HTTP/1.1\r\nHost: x\r\n{fields}\r\n\r\nhello", 400);
    }

    [Fact]
    public async Task A_body_that_trickles_in_past_the_handshake_timeout_gets_408_and_others_are_served_meanwhile()
    {
        (TestServer server, Recorder recorder) = await StartAsync(o => o.HandshakeTimeout = TimeSpan.FromSeconds(1));
        await using TestServer _ = server;
        await using RawPeer slow = await RawPeer.ConnectAsync(server.Port);
        await slow.SendAsync("POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
        var clock = Stopwatch.StartNew();

        // A byte every 100 ms would take 10 s: the deadline for the whole request is 1 s.
        Task<RawHttpResponse> slowAnswer = slow.ReadHttpResponseAsync(TimeSpan.FromSeconds(10));
        using var stop = new CancellationTokenSource();
        Task trickle = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await slow.Socket.SendAsync("x"u8.ToArray(), System.Net.Sockets.SocketFlags.None, stop.Token);
                    await Task.Delay(100, stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or System.Net.Sockets.SocketException or ObjectDisposedException)
                {
                    return;
                }
            }
        });

        // Meanwhile another client is served at once.
        Assert.Equal(200, (await ExchangeAsync(server.Port, Post("quick"u8.ToArray()))).StatusCode);

        RawHttpResponse response = await slowAnswer;
        stop.Cancel();
        await trickle;
        Assert.Equal(408, response.StatusCode);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(5));
        Assert.Equal("quick"u8.ToArray(), Assert.Single(recorder.Requests).Body);
    }

    [Fact]
    public async Task The_deadline_covers_head_and_body_together()
    {
        (TestServer server, Recorder recorder) = await StartAsync(o => o.HandshakeTimeout = TimeSpan.FromSeconds(1));
        await using TestServer _ = server;
        await using RawPeer peer = await RawPeer.ConnectAsync(server.Port);

        // Each half alone arrives within the timeout; together they do not.
        await peer.SendAsync("POST /api HTTP/1.1\r\nHost: x\r\n");
        await Task.Delay(600);
        await peer.SendAsync("Content-Length: 4\r\n\r\nab");
        await Task.Delay(600);
        await peer.SendAsync("cd");

        Assert.Equal(408, (await peer.ReadHttpResponseAsync()).StatusCode);
        Assert.Empty(recorder.Requests);
    }

    [Fact]
    public async Task A_client_that_closes_in_the_middle_of_the_body_gets_no_answer_and_the_handler_is_not_called()
    {
        (TestServer server, Recorder recorder) = await StartAsync();
        await using TestServer _ = server;
        await using RawPeer peer = await RawPeer.ConnectAsync(server.Port);
        await peer.SendAsync("POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
        peer.Socket.Shutdown(System.Net.Sockets.SocketShutdown.Send);

        Assert.True(await peer.WaitForServerCloseAsync(TimeSpan.FromSeconds(5)));
        Assert.Empty(recorder.Requests);
        Assert.Equal(200, (await ExchangeAsync(server.Port, Post("next"u8.ToArray()))).StatusCode);
    }

    [Fact]
    public async Task A_body_is_counted_in_the_receive_budget_while_handled_and_refused_with_503_past_it()
    {
        (TestServer server, Recorder recorder) = await StartAsync(o => o.MaxBufferedBytes = 1000);
        await using TestServer _ = server;

        Assert.Equal(200, (await ExchangeAsync(server.Port, Post(new byte[600]))).StatusCode);
        Assert.Equal(600, recorder.BufferedDuringHandler);
        // Released once the handler's response has gone out, which can be a moment after the client has read it.
        await TestServer.WaitUntilAsync(() => server.Server.BufferedBytes == 0, because: "the body's bytes to be released after its response");

        RawHttpResponse refused = await ExchangeAsync(server.Port, Post(new byte[1001], path: "/too-much"));
        Assert.Equal(503, refused.StatusCode);
        Assert.Equal("5", refused.Headers["retry-after"]);
        Assert.Single(recorder.Requests);
        await TestServer.WaitUntilAsync(() => server.Server.BufferedBytes == 0, because: "nothing to stay counted after the refusal");
    }
}
