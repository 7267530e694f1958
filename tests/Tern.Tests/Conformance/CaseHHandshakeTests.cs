using System.Diagnostics;
using System.Text;

namespace Tern.Tests.Conformance;

/// <summary>
/// The server of the handshake cases: the echo, with subprotocols (preferring chat.v2), one allowed origin, and a hook
/// that refuses /private without a session cookie.
/// </summary>
public class HandshakeServer : ConformanceServer
{
    public const string AllowedOrigin = "https://allowed.example";

    private protected override void ConfigureOptions(WebSocketServerOptions options)
    {
        options.Subprotocols.Add("chat.v2");
        options.Subprotocols.Add("chat.v1");
        options.AllowedOrigins.Add(AllowedOrigin);
        options.OnHandshake = (context, _) =>
        {
            if (context.Path == "/private" && (!context.Cookies.TryGetValue("session", out string? session) || session != "letmein"))
            {
                context.Reject(401, "Log in first.");
            }

            return ValueTask.CompletedTask;
        };
    }
}

/// <summary>
/// The opening handshake (RFC 6455 §4.2, not numbered by Autobahn, whose fuzzing client only makes valid handshakes):
/// valid requests however TCP splits them, and every malformed one refused with a complete HTTP response (status, a
/// Content-Length body with a short reason, Connection: close) after which the server closes the connection.
/// </summary>
public class CaseHHandshakeTests(HandshakeServer server) : ConformanceCases<HandshakeServer>(server)
{
    [Fact]
    public async Task Case_H_1_1_valid_request_is_accepted()
    {
        await using RawClient client = await OpenAsync();
        Assert.Null(client.Handshake!["Sec-WebSocket-Protocol"]);
        await client.SendAsync(WireFrame.Text("Hello"));
        await client.ExpectTextAsync("Hello");
        await client.CloseNormallyAsync();
    }

    [Fact]
    public async Task Case_H_1_2_request_in_one_byte_writes()
    {
        string key = RawClient.NewKey();
        await using RawClient client = await RawClient.ConnectAsync(Port);
        await client.SendAsync(RawClient.UpgradeRequest("/", Port, key), chopSize: 1, chopDelayMs: 1);
        RawClient.AssertAccepts(await client.ReadHttpResponseAsync(), key);
        await client.SendAsync(WireFrame.Text("Hello"));
        await client.ExpectTextAsync("Hello");
        await client.CloseNormallyAsync();
    }

    [Fact]
    public async Task Case_H_1_3_frames_in_the_same_write_as_the_request_are_kept()
    {
        string key = RawClient.NewKey();
        await using RawClient client = await RawClient.ConnectAsync(Port);
        await client.SendAsync(WireFrame.Concat(RawClient.UpgradeRequest("/", Port, key), WireFrame.Text("first"), WireFrame.Ping("second")));
        RawClient.AssertAccepts(await client.ReadHttpResponseAsync(), key);
        await client.ExpectTextAsync("first");
        await client.ExpectPongAsync("second");
        await client.CloseNormallyAsync();
    }

    [Fact]
    public async Task Case_H_1_4_header_names_and_tokens_are_case_insensitive()
    {
        string key = RawClient.NewKey();
        await using RawClient client = await RawClient.ConnectAsync(Port);
        await client.SendAsync(RawClient.Request("GET / HTTP/1.1",
            [$"host: 127.0.0.1:{Port}", "UPGRADE: WebSocket", "connection: keep-alive, upgrade", $"sec-websocket-key: {key}", "SEC-WEBSOCKET-VERSION: 13"]));
        RawClient.AssertAccepts(await client.ReadHttpResponseAsync(), key);
        await client.CloseNormallyAsync();
    }

    [Fact]
    public async Task Case_H_1_5_offered_extension_is_not_negotiated()
    {
        // The 101 carries no Sec-WebSocket-Extensions (checked by OpenAsync), so compressed (RSV1) frames stay illegal.
        await using RawClient client = await OpenAsync("/", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits");
        await client.SendAsync(WireFrame.Encode(Op.Text, "Hello"u8, rsv: 4));
        await client.ExpectFailureAsync(1002);
    }

    [Fact]
    public async Task Case_H_1_6_request_of_100_headers_and_7_KiB_is_accepted()
    {
        string[] filler = [.. Enumerable.Range(0, 94).Select(i => $"X-Filler-{i}: {i}"), $"X-Large: {new string('a', 5 * 1024)}"];
        await using RawClient client = await OpenAsync("/", filler);
        await client.CloseNormallyAsync();
    }

    [Fact]
    public Task Case_H_2_1_missing_key_is_400() => RefusedAsync(Without("Sec-WebSocket-Key"), 400);

    [Theory]
    [InlineData("H.2.2.1", "AAAAAAAAAAAAAAAAAAAA")] // 15 bytes
    [InlineData("H.2.2.2", "AAAAAAAAAAAAAAAAAAAAAAA=")] // 17 bytes
    [InlineData("H.2.2.3", "not*base64*at*all*here==")]
    [InlineData("H.2.2.4", "")]
    public Task Case_H_2_2_key_not_16_bytes_is_400(string caseId, string key)
    {
        _ = caseId;
        return RefusedAsync(Replace("Sec-WebSocket-Key", $"Sec-WebSocket-Key: {key}"), 400);
    }

    [Fact]
    public Task Case_H_2_3_repeated_key_is_400() =>
        RefusedAsync(Request(extra: $"Sec-WebSocket-Key: {RawClient.NewKey()}"), 400);

    [Theory]
    [InlineData("H.2.4.1", "Sec-WebSocket-Version: 8")]
    [InlineData("H.2.4.2", "Sec-WebSocket-Version: 12")]
    [InlineData("H.2.4.3", "Sec-WebSocket-Version: 14")]
    [InlineData("H.2.4.4", null)]
    public async Task Case_H_2_4_wrong_version_is_426_naming_13(string caseId, string? versionLine)
    {
        _ = caseId;
        RawHttpResponse response = await RefusedAsync(Replace("Sec-WebSocket-Version", versionLine), 426);
        Assert.Equal("13", response["Sec-WebSocket-Version"]);
    }

    [Theory]
    [InlineData("H.2.5.1", "POST")]
    [InlineData("H.2.5.2", "PUT")]
    public async Task Case_H_2_5_method_other_than_GET_is_405(string caseId, string method)
    {
        _ = caseId;
        RawHttpResponse response = await RefusedAsync(Request(requestLine: $"{method} / HTTP/1.1", extra: "Content-Length: 0"), 405);
        Assert.Equal("GET", response["Allow"]);
    }

    [Theory]
    [InlineData("H.2.6.1", "Upgrade", null)]
    [InlineData("H.2.6.2", "Upgrade", "Upgrade: h2c")]
    [InlineData("H.2.6.3", "Connection", null)]
    [InlineData("H.2.6.4", "Connection", "Connection: keep-alive")]
    public Task Case_H_2_6_missing_upgrade_or_connection_is_400(string caseId, string header, string? replacement)
    {
        // A handshake (it carries Sec-WebSocket-Key and -Version) that lacks Upgrade: websocket or Connection: Upgrade
        // is malformed: RFC 6455 §4.2.1 asks for 400.
        _ = caseId;
        return RefusedAsync(Replace(header, replacement), 400);
    }

    [Fact]
    public Task Case_H_2_7_missing_host_is_400() => RefusedAsync(Without("Host"), 400);

    [Fact]
    public Task Case_H_2_8_http_1_0_is_400() => RefusedAsync(Request(requestLine: "GET / HTTP/1.0"), 400);

    [Fact]
    public Task Case_H_2_9_head_over_8_KiB_is_431() =>
        RefusedAsync(Request(extra: $"X-Large: {new string('a', 9 * 1024)}"), 431);

    [Fact]
    public Task Case_H_2_10_more_than_100_headers_is_431() =>
        RefusedAsync(Request(extra: [.. Enumerable.Range(0, 96).Select(i => $"X-Filler-{i}: {i}")]), 431);

    [Fact]
    public async Task Case_H_2_11_plain_GET_is_426()
    {
        // Not a handshake at all, and the server has no HTTP handler: 426 Upgrade Required (RFC 9110 §15.5.22).
        RawHttpResponse response = await RefusedAsync(RawClient.Request("GET / HTTP/1.1", [$"Host: 127.0.0.1:{Port}"]), 426);
        Assert.True(response.HasToken("Upgrade", "websocket"), $"A 426 names the protocol to upgrade to: {response}");
    }

    [Fact]
    public Task Case_H_2_12_origin_not_allowed_is_403() => RefusedAsync(Request(extra: "Origin: https://evil.example"), 403);

    [Fact]
    public async Task Case_H_2_13_allowed_origin_is_accepted()
    {
        await using RawClient client = await OpenAsync("/", $"Origin: {HandshakeServer.AllowedOrigin}");
        await client.CloseNormallyAsync();
    }

    [Fact]
    public Task Case_H_2_14_hook_refusal_is_401() => RefusedAsync(Request(requestLine: "GET /private HTTP/1.1"), 401);

    [Fact]
    public async Task Case_H_2_15_hook_accepts_with_cookie()
    {
        await using RawClient client = await OpenAsync("/private", "Cookie: theme=dark; session=letmein");
        await client.CloseNormallyAsync();
    }

    [Fact]
    public async Task Case_H_4_1_server_preference_among_offered_subprotocols()
    {
        await using RawClient client = await OpenAsync("/", "Sec-WebSocket-Protocol: chat.v1, chat.v2");
        Assert.Equal("chat.v2", client.Handshake!["Sec-WebSocket-Protocol"]);
        await client.CloseNormallyAsync();
    }

    [Fact]
    public async Task Case_H_4_2_no_common_subprotocol_means_no_header()
    {
        // RFC 6455 §4.2.2: the server may only confirm a subprotocol the client offered; with none in common, none.
        await using RawClient client = await OpenAsync("/", "Sec-WebSocket-Protocol: other");
        Assert.Null(client.Handshake!["Sec-WebSocket-Protocol"]);
        await client.CloseNormallyAsync();
    }

    [Fact]
    public async Task Case_H_4_3_subprotocols_offered_in_repeated_headers()
    {
        await using RawClient client = await OpenAsync("/", "Sec-WebSocket-Protocol: other", "Sec-WebSocket-Protocol: chat.v1");
        Assert.Equal("chat.v1", client.Handshake!["Sec-WebSocket-Protocol"]);
        await client.CloseNormallyAsync();
    }

    private string[] StandardHeaders() =>
        [$"Host: 127.0.0.1:{Port}", "Upgrade: websocket", "Connection: Upgrade", $"Sec-WebSocket-Key: {RawClient.NewKey()}", "Sec-WebSocket-Version: 13"];

    private byte[] Request(string requestLine = "GET / HTTP/1.1", params string[] extra) => RawClient.Request(requestLine, [.. StandardHeaders(), .. extra]);

    private byte[] Without(string name) => Replace(name, null);

    /// <summary>The standard request with the header <paramref name="name"/> replaced by <paramref name="line"/> (removed when null).</summary>
    private byte[] Replace(string name, string? line) =>
        RawClient.Request("GET / HTTP/1.1", StandardHeaders().Select(h => h.StartsWith(name + ":", StringComparison.Ordinal) ? line : h).OfType<string>());

    /// <summary>Sends a request and expects a complete refusal with <paramref name="status"/>, then the server closing TCP.</summary>
    private async Task<RawHttpResponse> RefusedAsync(byte[] request, int status)
    {
        await using RawClient client = await RawClient.ConnectAsync(Port);
        await client.SendAsync(request);
        RawHttpResponse response = await client.ReadHttpResponseAsync();
        AssertCompleteRefusal(response, status);
        await client.ExpectTcpClosedAsync();
        return response;
    }

    internal static void AssertCompleteRefusal(RawHttpResponse response, int status)
    {
        Assert.True(response.StatusCode == status, $"Expected {status}, got {response}");
        Assert.True(response["Content-Length"] is not null, $"A refusal must delimit its body with Content-Length: {response}");
        Assert.True(response.Body.Length > 0, $"A refusal must say why in its body: {response}");
        Assert.True(response.HasToken("Connection", "close"), $"A refusal must announce Connection: close: {response}");
        Assert.True(response["Sec-WebSocket-Accept"] is null, $"A refusal must not accept the handshake: {response}");
    }
}

/// <summary>A server whose handshake timeout is short, for the cases about slow and silent clients.</summary>
public class ShortHandshakeTimeoutServer : ConformanceServer
{
    // Short enough to keep these cases quick, long enough that a client completing its request at once is never
    // timed out on a loaded 2-core machine running the other tests (300 ms was not: H.3.4 once got 408).
    public static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(1);

    private protected override void ConfigureOptions(WebSocketServerOptions options) => options.HandshakeTimeout = HandshakeTimeout;
}

/// <summary>
/// Slow and silent clients cannot hold a connection: whoever has not sent a complete request within the handshake
/// timeout gets 408 and is disconnected, however busy it keeps the socket. The timeout ends with the handshake.
/// </summary>
public class CaseHHandshakeTimeoutTests(ShortHandshakeTimeoutServer server) : ConformanceCases<ShortHandshakeTimeoutServer>(server)
{
    private static readonly TimeSpan Limit = ShortHandshakeTimeoutServer.HandshakeTimeout + TimeSpan.FromSeconds(3);

    [Fact]
    public async Task Case_H_3_1_silent_client_is_dropped()
    {
        var elapsed = Stopwatch.StartNew();
        await using RawClient client = await RawClient.ConnectAsync(Port);
        await ExpectTimedOutAsync(client, elapsed);
    }

    [Fact]
    public async Task Case_H_3_2_incomplete_request_is_dropped()
    {
        var elapsed = Stopwatch.StartNew();
        await using RawClient client = await RawClient.ConnectAsync(Port);
        await client.SendAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: 127.0.0.1:{Port}\r\n"));
        await ExpectTimedOutAsync(client, elapsed);
    }

    [Fact]
    public async Task Case_H_3_3_trickling_client_is_dropped()
    {
        // A byte every 50 ms keeps the socket busy but never completes the request: the timeout counts from the connect.
        var elapsed = Stopwatch.StartNew();
        await using RawClient client = await RawClient.ConnectAsync(Port);
        using var stop = new CancellationTokenSource();
        Task trickle = Task.Run(async () =>
        {
            foreach (byte b in Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nX-Slow: " + new string('a', 200)))
            {
                if (stop.IsCancellationRequested)
                {
                    return;
                }

                await client.SendAsync(new[] { b });
                await Task.Delay(50);
            }
        });
        await ExpectTimedOutAsync(client, elapsed);
        await stop.CancelAsync();
        await trickle;
    }

    [Fact]
    public async Task Case_H_3_4_idle_open_connection_outlives_the_handshake_timeout()
    {
        await using RawClient client = await RawClient.OpenAsync(Port);
        await client.ExpectNothingForAsync(ShortHandshakeTimeoutServer.HandshakeTimeout * 2);
        await client.SendAsync(WireFrame.Text("still here"));
        await client.ExpectTextAsync("still here");
        await client.CloseNormallyAsync();
    }

    private static async Task ExpectTimedOutAsync(RawClient client, Stopwatch elapsed)
    {
        RawHttpResponse response = await client.ReadHttpResponseAsync(Limit);
        CaseHHandshakeTests.AssertCompleteRefusal(response, 408);
        await client.ExpectTcpClosedAsync();
        Assert.True(elapsed.Elapsed >= ShortHandshakeTimeoutServer.HandshakeTimeout * 0.8,
            $"Dropped after {elapsed.Elapsed.TotalMilliseconds:F0} ms, before the {ShortHandshakeTimeoutServer.HandshakeTimeout.TotalMilliseconds} ms timeout.");
    }
}
