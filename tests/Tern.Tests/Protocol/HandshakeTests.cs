using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using Tern.Protocol;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Protocol;

public class HandshakeTests
{
    private const string SampleKey = "dGhlIHNhbXBsZSBub25jZQ==";
    private const string SampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    private static readonly string[] ValidFields =
    [
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: " + SampleKey,
        "Sec-WebSocket-Version: 13",
    ];

    /// <summary>
    /// A valid upgrade request, except that every field named <paramref name="name"/> is replaced by
    /// <paramref name="replacement"/> (removed when null), or, with no name, <paramref name="replacement"/> is added.
    /// </summary>
    private static HttpRequestHead Request(string? name, string? replacement, string requestLine = "GET /chat HTTP/1.1")
    {
        var lines = new List<string>();
        bool replaced = false;
        foreach (var line in ValidFields)
        {
            if (name is not null && line.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
            {
                if (replacement is not null && !replaced)
                {
                    lines.Add(replacement);
                }

                replaced = true;
            }
            else
            {
                lines.Add(line);
            }
        }

        if (name is null && replacement is not null)
        {
            lines.Add(replacement);
        }

        return HttpRequestParserTests.ParseComplete(requestLine + "\r\n" + string.Join("\r\n", lines) + "\r\n\r\n");
    }

    private static HttpRequestHead ValidRequest() => Request(null, null);

    private static string Latin1(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    private static string Written(Action<IBufferWriter<byte>> write)
    {
        var output = new ArrayBufferWriter<byte>();
        write(output);

        // Also through a writer that gives exactly the requested sizes, to catch writes past a requested span.
        var exact = new ExactSizeBufferWriter();
        write(exact);
        Assert.Equal(output.WrittenSpan.ToArray(), exact.WrittenBytes);

        return Latin1(output.WrittenSpan);
    }

    private static void AssertRefusal(HandshakeRefusal? refusal, int expectedStatus)
    {
        Assert.NotNull(refusal);
        Assert.Equal(expectedStatus, refusal.StatusCode);
        Assert.False(string.IsNullOrWhiteSpace(refusal.Reason));
    }

    [Fact]
    public void Computes_the_accept_value_of_the_rfc_sample_key()
    {
        Assert.Equal(SampleAccept, Handshake.ComputeAccept(SampleKey));
    }

    [Theory]
    [InlineData("x3JJHMbDL1EzLkh9GBhXDw==", "HSmrc0sMlYUkAGmm5OPpG2HaGWk=")]
    [InlineData("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")]
    public void Computes_known_accept_values(string key, string accept)
    {
        Assert.Equal(accept, Handshake.ComputeAccept(key));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(24)]
    [InlineData(219)]
    [InlineData(220)]
    [InlineData(221)]
    [InlineData(5000)]
    public void Computes_the_accept_value_of_keys_of_any_length(int length)
    {
        string key = new(Enumerable.Range(0, length).Select(i => (char)('A' + i % 26)).ToArray());
        string expected = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + Handshake.Guid)));

        Assert.Equal(expected, Handshake.ComputeAccept(key));
    }

    [Fact]
    public void Guid_is_the_one_rfc_6455_specifies()
    {
        Assert.Equal("258EAFA5-E914-47DA-95CA-C5AB0DC85B11", Handshake.Guid);
    }

    [Fact]
    public void Accepts_the_rfc_sample_handshake_byte_for_byte()
    {
        var request = HttpRequestParserTests.ParseComplete(HttpRequestParserTests.SampleHead);

        Assert.True(Handshake.IsUpgradeRequest(request));
        Assert.Null(Handshake.Validate(request));
        Assert.Equal(["chat", "superchat"], Handshake.GetOfferedSubprotocols(request));

        string response = Written(output =>
            Handshake.WriteAccept(output, request.Headers["Sec-WebSocket-Key"]!, "chat"));

        Assert.Equal(
            "HTTP/1.1 101 Switching Protocols\r\n" +
            "Upgrade: websocket\r\n" +
            "Connection: Upgrade\r\n" +
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
            "Sec-WebSocket-Protocol: chat\r\n" +
            "\r\n",
            response);
    }

    [Fact]
    public void Writes_a_minimal_accept_without_optional_fields()
    {
        Assert.Equal(
            "HTTP/1.1 101 Switching Protocols\r\n" +
            "Upgrade: websocket\r\n" +
            "Connection: Upgrade\r\n" +
            "Sec-WebSocket-Accept: HSmrc0sMlYUkAGmm5OPpG2HaGWk=\r\n" +
            "\r\n",
            Written(output => Handshake.WriteAccept(output, "x3JJHMbDL1EzLkh9GBhXDw==", null)));
    }

    [Fact]
    public void Writes_subprotocol_extensions_and_extra_fields_in_order()
    {
        string response = Written(output => Handshake.WriteAccept(output, SampleKey, "v2.json",
            "permessage-deflate; server_no_context_takeover",
            [new("Set-Cookie", "session=abc; HttpOnly"), new("X-Server", "tern")]));

        Assert.Equal(
            "HTTP/1.1 101 Switching Protocols\r\n" +
            "Upgrade: websocket\r\n" +
            "Connection: Upgrade\r\n" +
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
            "Sec-WebSocket-Protocol: v2.json\r\n" +
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n" +
            "Set-Cookie: session=abc; HttpOnly\r\n" +
            "X-Server: tern\r\n" +
            "\r\n",
            response);
    }

    [Theory]
    [InlineData("", null, null, null)]
    [InlineData("chat, superchat", null, null, null)]
    [InlineData("chat\r\n", null, null, null)]
    [InlineData(null, "permessage-deflate\r\nX-Injected: 1", null, null)]
    [InlineData(null, null, "Bad Name", "v")]
    [InlineData(null, null, "X-Ok", "v\r\nX-Injected: 1")]
    [InlineData(null, null, "X-Ok", "wide \u0100")]
    [InlineData(null, null, "Sec-WebSocket-Accept", "forged")]
    [InlineData(null, null, "upgrade", "h2c")]
    [InlineData(null, null, "Connection", "close")]
    [InlineData(null, null, "sec-websocket-protocol", "chat")]
    [InlineData(null, null, "Sec-WebSocket-Extensions", "x")]
    [InlineData(null, null, "Content-Length", "0")]
    [InlineData(null, null, "Transfer-Encoding", "chunked")]
    public void Refuses_to_write_an_unsafe_accept_and_writes_nothing(string? subprotocol, string? extensions,
        string? extraName, string? extraValue)
    {
        var output = new ArrayBufferWriter<byte>();
        KeyValuePair<string, string>[]? extras = extraName is null ? null : [new(extraName, extraValue!)];

        Assert.Throws<ArgumentException>(() => Handshake.WriteAccept(output, SampleKey, subprotocol, extensions, extras));
        Assert.Equal(0, output.WrittenCount);
    }

    [Fact]
    public void Accepts_a_valid_request()
    {
        Assert.Null(Handshake.Validate(ValidRequest()));
    }

    [Theory]
    [InlineData("Upgrade", "Upgrade: WebSocket")]
    [InlineData("Upgrade", "Upgrade: h2c, websocket")]
    [InlineData("Upgrade", "upgrade: WEBSOCKET")]
    [InlineData("Connection", "Connection: keep-alive, Upgrade")]
    [InlineData("Connection", "Connection: upgrade")]
    [InlineData("Connection", "connection: keep-alive,UPGRADE")]
    [InlineData("Connection", "Connection: keep-alive\r\nConnection: Upgrade")]
    [InlineData("Sec-WebSocket-Version", "sec-websocket-version:   13  ")]
    [InlineData("Sec-WebSocket-Key", "sec-websocket-key: AAAAAAAAAAAAAAAAAAAAAA==")]
    [InlineData("Sec-WebSocket-Key", "Sec-WebSocket-Key: +/+/+/+/+/+/+/+/+/+/+w==")]
    [InlineData("Host", "HOST: 127.0.0.1:8080")]
    public void Accepts_valid_variations(string name, string replacement)
    {
        Assert.Null(Handshake.Validate(Request(name, replacement)));
    }

    [Theory]
    [InlineData("HTTP/1.1")]
    [InlineData("HTTP/1.2")]
    public void Accepts_http_1_1_or_later_1x(string version)
    {
        Assert.Null(Handshake.Validate(Request(null, null, "GET / " + version)));
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("HEAD")]
    [InlineData("get")]
    [InlineData("OPTIONS")]
    public void Refuses_a_method_other_than_get_with_405_and_allow(string method)
    {
        var refusal = Handshake.Validate(Request(null, null, method + " /chat HTTP/1.1"));

        AssertRefusal(refusal, 405);
        Assert.Equal([new KeyValuePair<string, string>("Allow", "GET")], refusal!.Headers);
    }

    [Fact]
    public void Refuses_http_1_0_with_400()
    {
        AssertRefusal(Handshake.Validate(Request(null, null, "GET /chat HTTP/1.0")), 400);
    }

    [Theory]
    [InlineData("HTTP/2.0", 505)]
    [InlineData("HTTP/0.9", 505)]
    [InlineData("HTTP/1.x", 400)]
    [InlineData("http/1.1", 400)]
    [InlineData("", 400)]
    public void Refuses_versions_a_hand_built_request_may_carry(string version, int expectedStatus)
    {
        var valid = ValidRequest();
        var request = new HttpRequestHead("GET", "/", version, valid.Headers);

        AssertRefusal(Handshake.Validate(request), expectedStatus);
    }

    [Theory]
    [InlineData("Host", null)]
    [InlineData(null, "Host: other.example.com")]
    [InlineData("Upgrade", null)]
    [InlineData("Upgrade", "Upgrade: h2c")]
    [InlineData("Upgrade", "Upgrade: websocket2")]
    [InlineData("Upgrade", "Upgrade: web socket")]
    [InlineData("Connection", null)]
    [InlineData("Connection", "Connection: keep-alive")]
    [InlineData("Connection", "Connection: Upgrades")]
    [InlineData("Connection", "Connection: close")]
    [InlineData("Sec-WebSocket-Key", null)]
    [InlineData("Sec-WebSocket-Key", "Sec-WebSocket-Key:")]
    [InlineData(null, "Sec-WebSocket-Key: " + SampleKey)]
    [InlineData("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ")]
    [InlineData("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=")]
    [InlineData("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA")]
    [InlineData("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("Sec-WebSocket-Key", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAAAAA==")]
    [InlineData("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZ*==")]
    [InlineData("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j Q==")]
    [InlineData("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ-=")]
    public void Refuses_a_malformed_handshake_with_400(string? name, string? replacement)
    {
        var refusal = Handshake.Validate(Request(name, replacement));

        AssertRefusal(refusal, 400);
        Assert.Empty(refusal!.Headers);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Sec-WebSocket-Version: 8")]
    [InlineData("Sec-WebSocket-Version: 013")]
    [InlineData("Sec-WebSocket-Version: 13, 8")]
    [InlineData("Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13")]
    [InlineData("Sec-WebSocket-Version:")]
    public void Refuses_an_unsupported_websocket_version_with_426_naming_version_13(string? replacement)
    {
        var refusal = Handshake.Validate(Request("Sec-WebSocket-Version", replacement));

        AssertRefusal(refusal, 426);
        Assert.Contains(new KeyValuePair<string, string>("Sec-WebSocket-Version", "13"), refusal!.Headers);
    }

    [Fact]
    public void Reports_an_unsupported_version_before_a_missing_key()
    {
        var request = HttpRequestParserTests.ParseComplete(
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n\r\n");

        AssertRefusal(Handshake.Validate(request), 426);
    }

    [Theory]
    [InlineData("Upgrade: websocket", true)]
    [InlineData("Upgrade: WebSocket", true)]
    [InlineData("Upgrade: h2c, websocket", true)]
    [InlineData("Upgrade: h2c", false)]
    [InlineData("X-Upgrade: websocket", false)]
    [InlineData("Connection: Upgrade", false)]
    [InlineData("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", true)]
    [InlineData("sec-websocket-version: 13", true)]
    [InlineData("Sec-WebSocket-Protocol: chat", false)]
    public void Recognises_an_upgrade_request_by_its_upgrade_field_or_handshake_fields(string field, bool expected)
    {
        var request = HttpRequestParserTests.ParseComplete("GET / HTTP/1.1\r\nHost: a\r\n" + field + "\r\n\r\n");

        Assert.Equal(expected, Handshake.IsUpgradeRequest(request));
    }

    [Fact]
    public void Lists_offered_subprotocols_in_order()
    {
        var request = Request(null, "Sec-WebSocket-Protocol: chat, superchat\r\nsec-websocket-protocol: v2.json");

        Assert.Equal(["chat", "superchat", "v2.json"], Handshake.GetOfferedSubprotocols(request));
        Assert.Empty(Handshake.GetOfferedSubprotocols(ValidRequest()));
    }

    [Fact]
    public void Writes_a_405_refusal_byte_for_byte()
    {
        var refusal = Handshake.Validate(Request(null, null, "POST /chat HTTP/1.1"))!;

        Assert.Equal(
            "HTTP/1.1 405 Method Not Allowed\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\n" +
            "Content-Length: 36\r\n" +
            "Connection: close\r\n" +
            "Allow: GET\r\n" +
            "\r\n" +
            "A WebSocket handshake must use GET.\n",
            Written(output => Handshake.WriteRefusal(output, refusal)));
    }

    [Fact]
    public void Writes_a_426_refusal_byte_for_byte()
    {
        var refusal = Handshake.Validate(Request("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"))!;

        Assert.Equal(
            "HTTP/1.1 426 Upgrade Required\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\n" +
            "Content-Length: 62\r\n" +
            "Connection: close\r\n" +
            "Sec-WebSocket-Version: 13\r\n" +
            "Upgrade: websocket\r\n" +
            "\r\n" +
            "Unsupported WebSocket version: this server speaks version 13.\n",
            Written(output => Handshake.WriteRefusal(output, refusal)));
    }

    [Fact]
    public void Writes_a_parser_refusal_byte_for_byte()
    {
        var outcome = HttpRequestParserTests.Parse(HttpRequestParserTests.SampleHead, new HttpRequestParser(maxHeadBytes: 64));
        Assert.Equal(HttpParseStatus.Invalid, outcome.Status);

        Assert.Equal(
            "HTTP/1.1 431 Request Header Fields Too Large\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\n" +
            "Content-Length: 52\r\n" +
            "Connection: close\r\n" +
            "\r\n" +
            "The request head is larger than the server accepts.\n",
            Written(output => Handshake.WriteRefusal(output, outcome.Refusal!)));
    }

    [Fact]
    public void Counts_the_body_in_utf8_bytes_and_lets_a_refusal_choose_its_content_type()
    {
        var refusal = new HandshakeRefusal(403, "Caf\u00E9 \u2615",
            [new("Content-Type", "text/html; charset=utf-8"), new("X-Reason", "origin")]);
        var output = new ArrayBufferWriter<byte>();

        Handshake.WriteRefusal(output, refusal);

        byte[] expected =
        [
            .. "HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\nConnection: close\r\n"u8,
            .. "Content-Type: text/html; charset=utf-8\r\nX-Reason: origin\r\n\r\n"u8,
            .. "Caf\u00E9 \u2615\n"u8,
        ];
        Assert.Equal(expected, output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Writes_an_empty_reason_phrase_for_an_unknown_status_and_a_bare_line_feed_for_an_empty_reason()
    {
        Assert.Equal(
            "HTTP/1.1 499 \r\n" +
            "Content-Type: text/plain; charset=utf-8\r\n" +
            "Content-Length: 1\r\n" +
            "Connection: close\r\n" +
            "\r\n" +
            "\n",
            Written(output => Handshake.WriteRefusal(output, new HandshakeRefusal(499, ""))));
    }

    [Theory]
    [InlineData(101, "Switching Protocols")]
    [InlineData(200, "OK")]
    [InlineData(204, "No Content")]
    [InlineData(304, "Not Modified")]
    [InlineData(400, "Bad Request")]
    [InlineData(401, "Unauthorized")]
    [InlineData(403, "Forbidden")]
    [InlineData(404, "Not Found")]
    [InlineData(405, "Method Not Allowed")]
    [InlineData(408, "Request Timeout")]
    [InlineData(413, "Content Too Large")]
    [InlineData(414, "URI Too Long")]
    [InlineData(426, "Upgrade Required")]
    [InlineData(429, "Too Many Requests")]
    [InlineData(431, "Request Header Fields Too Large")]
    [InlineData(500, "Internal Server Error")]
    [InlineData(501, "Not Implemented")]
    [InlineData(503, "Service Unavailable")]
    [InlineData(505, "HTTP Version Not Supported")]
    [InlineData(299, "")]
    public void Knows_the_standard_reason_phrases(int status, string phrase)
    {
        Assert.Equal(phrase, Handshake.ReasonPhrase(status));
    }

    [Theory]
    [InlineData(101)]
    [InlineData(199)]
    [InlineData(600)]
    [InlineData(0)]
    public void Refusals_need_a_final_status_code(int status)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HandshakeRefusal(status, "x"));
    }

    [Theory]
    [InlineData("Bad Name", "v")]
    [InlineData("X-Ok", "v\r\nInjected: 1")]
    [InlineData("Content-Length", "5")]
    [InlineData("transfer-encoding", "chunked")]
    [InlineData("Connection", "keep-alive")]
    public void Refusals_refuse_unsafe_or_writer_owned_fields(string name, string value)
    {
        Assert.Throws<ArgumentException>(() => new HandshakeRefusal(400, "x", [new(name, value)]));
    }

    [Fact]
    public void Refusals_copy_their_fields()
    {
        var fields = new List<KeyValuePair<string, string>> { new("Retry-After", "5") };
        var refusal = new HandshakeRefusal(503, "Busy", fields);

        fields.Add(new("X", "y"));

        Assert.Equal([new KeyValuePair<string, string>("Retry-After", "5")], refusal.Headers);
        Assert.Equal("503 Service Unavailable: Busy", refusal.ToString());
        Assert.Empty(new HandshakeRefusal(400, "x").Headers);
    }
}

public class HandshakeAllocationTests
{
    private static long AllocatedBy(Action action)
    {
        for (int i = 0; i < 50; i++)
        {
            action();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        action();
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [Fact]
    public void Validating_and_writing_the_accept_allocate_nothing()
    {
        var request = HttpRequestParserTests.ParseComplete(HttpRequestParserTests.SampleHead);
        string key = request.Headers["Sec-WebSocket-Key"]!;
        var output = new ArrayBufferWriter<byte>(1024);

        Assert.Equal(0, AllocatedBy(() => Assert.Null(Handshake.Validate(request))));
        Assert.Equal(0, AllocatedBy(() =>
        {
            output.ResetWrittenCount();
            Handshake.WriteAccept(output, key, "chat");
        }));
    }

    [Fact]
    public void Computing_the_accept_value_allocates_only_the_result()
    {
        // A 28-character string: object header, length and UTF-16 characters, rounded up.
        Assert.InRange(AllocatedBy(() => Handshake.ComputeAccept("dGhlIHNhbXBsZSBub25jZQ==")), 1, 96);
    }

    [Fact]
    public void Parsing_the_sample_handshake_allocates_little_more_than_the_request_itself()
    {
        var buffer = new ReadOnlySequence<byte>(HttpRequestParserTests.Bytes(HttpRequestParserTests.SampleHead));
        var parser = new HttpRequestParser();

        // The request, its header array and the strings that are not interned come to about 600 bytes.
        Assert.InRange(AllocatedBy(() => parser.TryParse(buffer, out _, out _, out _)), 1, 1024);
    }
}
