using System.Buffers;
using System.Text;
using Tern.Protocol;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Protocol;

public class HttpRequestParserTests
{
    // RFC 6455 §1.2's sample handshake, with a masked "Hello" text frame sent in the same packet.
    internal const string SampleHead =
        "GET /chat?room=a HTTP/1.1\r\n" +
        "Host: server.example.com\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Origin: http://example.com\r\n" +
        "Sec-WebSocket-Protocol: chat, superchat\r\n" +
        "Sec-WebSocket-Version: 13\r\n" +
        "\r\n";

    private static readonly byte[] FirstFrame = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];

    internal sealed record Outcome(HttpParseStatus Status, long Consumed, HttpRequestHead? Request,
        HandshakeRefusal? Refusal);

    internal static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    internal static Outcome Parse(HttpRequestParser parser, ReadOnlySequence<byte> buffer)
    {
        var status = parser.TryParse(buffer, out var consumed, out var request, out var refusal);
        long consumedLength = buffer.Slice(buffer.Start, consumed).Length;
        switch (status)
        {
            case HttpParseStatus.Complete:
                Assert.NotNull(request);
                Assert.Null(refusal);
                break;
            case HttpParseStatus.Invalid:
                Assert.Null(request);
                Assert.NotNull(refusal);
                Assert.Equal(0, consumedLength);
                break;
            default:
                Assert.Null(request);
                Assert.Null(refusal);
                Assert.Equal(0, consumedLength);
                break;
        }

        return new Outcome(status, consumedLength, request, refusal);
    }

    internal static Outcome Parse(string text, HttpRequestParser? parser = null) =>
        Parse(parser ?? new HttpRequestParser(), new ReadOnlySequence<byte>(Bytes(text)));

    internal static HttpRequestHead ParseComplete(string text)
    {
        var outcome = Parse(text);
        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
        return outcome.Request!;
    }

    private static void AssertRefused(int expectedStatus, string text, HttpRequestParser? parser = null)
    {
        var outcome = Parse(text, parser);
        Assert.Equal(HttpParseStatus.Invalid, outcome.Status);
        Assert.Equal(expectedStatus, outcome.Refusal!.StatusCode);
    }

    private static void AssertSampleRequest(HttpRequestHead request)
    {
        Assert.Equal("GET", request.Method);
        Assert.Equal("/chat?room=a", request.Target);
        Assert.Equal("/chat", request.Path);
        Assert.Equal("room=a", request.QueryString);
        Assert.Equal("HTTP/1.1", request.Version);
        Assert.Equal(7, request.Headers.Count);
        Assert.Equal("server.example.com", request.Headers["Host"]);
        Assert.Equal("dGhlIHNhbXBsZSBub25jZQ==", request.Headers["Sec-WebSocket-Key"]);
        Assert.Equal("chat, superchat", request.Headers["Sec-WebSocket-Protocol"]);
        Assert.Equal(
            ["Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Origin", "Sec-WebSocket-Protocol",
             "Sec-WebSocket-Version"],
            request.Headers.Select(field => field.Key));
    }

    private static byte[] SampleWithFrame() => [.. Bytes(SampleHead), .. FirstFrame];

    [Fact]
    public void Parses_the_request_line_and_header_fields()
    {
        var outcome = Parse(SampleHead);

        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
        Assert.Equal(SampleHead.Length, outcome.Consumed);
        AssertSampleRequest(outcome.Request!);
    }

    [Fact]
    public void Leaves_the_bytes_after_the_head_to_the_caller()
    {
        var buffer = new ReadOnlySequence<byte>(SampleWithFrame());

        var status = new HttpRequestParser().TryParse(buffer, out var consumed, out var request, out _);

        Assert.Equal(HttpParseStatus.Complete, status);
        AssertSampleRequest(request!);
        Assert.Equal(FirstFrame, buffer.Slice(consumed).ToArray());
    }

    [Fact]
    public void Needs_more_data_until_the_blank_line_arrives_one_byte_at_a_time()
    {
        var data = SampleWithFrame();
        var parser = new HttpRequestParser();

        for (int length = 0; length < SampleHead.Length; length++)
        {
            var outcome = Parse(parser, new ReadOnlySequence<byte>(data, 0, length));
            Assert.True(outcome.Status == HttpParseStatus.NeedMoreData, $"prefix of {length} bytes: {outcome.Status}");
        }

        var buffer = new ReadOnlySequence<byte>(data);
        var status = parser.TryParse(buffer, out var consumed, out var request, out _);
        Assert.Equal(HttpParseStatus.Complete, status);
        AssertSampleRequest(request!);
        Assert.Equal(FirstFrame, buffer.Slice(consumed).ToArray());
    }

    [Fact]
    public void Needs_more_data_until_the_blank_line_arrives_in_one_byte_segments()
    {
        var data = SampleWithFrame();
        var parser = new HttpRequestParser();

        for (int length = 0; length < SampleHead.Length; length++)
        {
            var outcome = Parse(parser, Sequences.OneBytePerSegment(data.AsMemory(0, length)));
            Assert.True(outcome.Status == HttpParseStatus.NeedMoreData, $"prefix of {length} bytes: {outcome.Status}");
        }

        var buffer = Sequences.OneBytePerSegment(data);
        var status = parser.TryParse(buffer, out var consumed, out var request, out _);
        Assert.Equal(HttpParseStatus.Complete, status);
        AssertSampleRequest(request!);
        Assert.Equal(FirstFrame, buffer.Slice(consumed).ToArray());
    }

    [Fact]
    public void Gives_the_same_result_when_split_into_two_segments_at_every_offset()
    {
        var data = SampleWithFrame();

        for (int offset = 0; offset <= data.Length; offset++)
        {
            var buffer = Sequences.SplitAt(data, offset);
            var status = new HttpRequestParser().TryParse(buffer, out var consumed, out var request, out _);

            Assert.Equal(HttpParseStatus.Complete, status);
            AssertSampleRequest(request!);
            Assert.Equal(FirstFrame, buffer.Slice(consumed).ToArray());
        }
    }

    [Fact]
    public void Parses_a_head_given_as_one_byte_segments_with_empty_segments_between()
    {
        var data = SampleWithFrame();
        var segments = data.SelectMany(b => new ReadOnlyMemory<byte>[] { new[] { b }, ReadOnlyMemory<byte>.Empty });
        var buffer = Sequences.FromSegments([.. segments]);

        var status = new HttpRequestParser().TryParse(buffer, out var consumed, out var request, out _);

        Assert.Equal(HttpParseStatus.Complete, status);
        AssertSampleRequest(request!);
        Assert.Equal(FirstFrame, buffer.Slice(consumed).ToArray());
    }

    [Fact]
    public void Parses_a_long_head_fed_byte_by_byte_in_one_byte_segments()
    {
        // Longer than the parser's stack copy, so the pooled copy path is used for scanning and parsing.
        string head = "GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + new string('v', 3000) + "\r\n\r\n";
        byte[] data = [.. Bytes(head), .. FirstFrame];
        var parser = new HttpRequestParser();

        for (int length = 0; length < head.Length; length += 7)
        {
            Assert.Equal(HttpParseStatus.NeedMoreData,
                Parse(parser, Sequences.Chunked(data.AsMemory(0, length), 1 + length % 5)).Status);
        }

        var buffer = Sequences.OneBytePerSegment(data);
        var status = parser.TryParse(buffer, out var consumed, out var request, out _);
        Assert.Equal(HttpParseStatus.Complete, status);
        Assert.Equal(new string('v', 3000), request!.Headers["X-Long"]);
        Assert.Equal(FirstFrame, buffer.Slice(consumed).ToArray());
    }

    [Fact]
    public void Finds_a_terminator_split_across_calls()
    {
        var data = Bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        var parser = new HttpRequestParser();

        // Stop just after each byte of the terminator, so the next call must look back at bytes already scanned.
        Assert.Equal(HttpParseStatus.NeedMoreData, Parse(parser, new ReadOnlySequence<byte>(data, 0, data.Length - 3)).Status);
        Assert.Equal(HttpParseStatus.NeedMoreData, Parse(parser, new ReadOnlySequence<byte>(data, 0, data.Length - 2)).Status);
        Assert.Equal(HttpParseStatus.NeedMoreData, Parse(parser, new ReadOnlySequence<byte>(data, 0, data.Length - 1)).Status);
        var outcome = Parse(parser, new ReadOnlySequence<byte>(data));
        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
        Assert.Equal(data.Length, outcome.Consumed);
    }

    [Fact]
    public void Can_parse_another_head_after_completing_one()
    {
        var parser = new HttpRequestParser();
        Assert.Equal(HttpParseStatus.Complete, Parse(SampleHead, parser).Status);

        var second = Parse("GET /b HTTP/1.1\r\nHost: b\r\n\r\n", parser);

        Assert.Equal(HttpParseStatus.Complete, second.Status);
        Assert.Equal("/b", second.Request!.Path);
    }

    [Fact]
    public void Starts_over_when_given_a_shorter_buffer_than_before()
    {
        var parser = new HttpRequestParser();
        Assert.Equal(HttpParseStatus.NeedMoreData, Parse("GET /first HTTP/1.1\r\nHost: a\r\nX: y", parser).Status);

        var outcome = Parse("GET /b HTTP/1.1\r\n\r\n", parser);

        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
        Assert.Equal("/b", outcome.Request!.Path);
    }

    [Fact]
    public void Needs_more_data_for_an_empty_buffer()
    {
        Assert.Equal(HttpParseStatus.NeedMoreData, Parse("").Status);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\nHost: a\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\n\n")]
    [InlineData("GET / HTTP/1.1\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\nX: b\n")]
    public void Refuses_a_bare_line_feed_without_waiting_for_more(string text)
    {
        AssertRefused(400, text);
    }

    [Fact]
    public void Refuses_a_bare_line_feed_arriving_in_a_later_call()
    {
        var parser = new HttpRequestParser();
        var data = Bytes("GET / HTTP/1.1\r\nHost: a\n");
        Assert.Equal(HttpParseStatus.NeedMoreData, Parse(parser, new ReadOnlySequence<byte>(data, 0, data.Length - 1)).Status);

        var outcome = Parse(parser, new ReadOnlySequence<byte>(data));

        Assert.Equal(HttpParseStatus.Invalid, outcome.Status);
        Assert.Equal(400, outcome.Refusal!.StatusCode);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n")]
    [InlineData("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nHost\r: a\r\n\r\n")]
    public void Refuses_a_bare_carriage_return(string text)
    {
        AssertRefused(400, text);
    }

    [Theory]
    [InlineData("Host : a")]
    [InlineData("Host\t: a")]
    [InlineData(": a")]
    [InlineData("Host a")]
    [InlineData("Ho(st): a")]
    [InlineData("Ho st: a")]
    [InlineData("Ho\u00E9st: a")]
    [InlineData("Host\u0000: a")]
    public void Refuses_a_malformed_header_name(string line)
    {
        AssertRefused(400, "GET / HTTP/1.1\r\n" + line + "\r\nX: y\r\n\r\n");
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n")]
    [InlineData("GET / HTTP/1.1\r\n Host: a\r\n\r\n")]
    public void Refuses_obsolete_line_folding(string text)
    {
        AssertRefused(400, text);
    }

    [Theory]
    [InlineData("\u0000")]
    [InlineData("\u0001")]
    [InlineData("\u0008")]
    [InlineData("\u000B")]
    [InlineData("\u001F")]
    [InlineData("\u007F")]
    public void Refuses_control_characters_in_a_header_value(string control)
    {
        AssertRefused(400, "GET / HTTP/1.1\r\nX-A: a" + control + "b\r\n\r\n");
    }

    [Fact]
    public void Keeps_tabs_inside_values_and_reads_other_bytes_as_latin1()
    {
        var request = ParseComplete("GET / HTTP/1.1\r\nX-Tab: a\tb\r\nX-Latin: caf\u00E9 \u00FF\r\n\r\n");

        Assert.Equal("a\tb", request.Headers["X-Tab"]);
        Assert.Equal("caf\u00E9 \u00FF", request.Headers["x-latin"]);
    }

    [Fact]
    public void Trims_optional_whitespace_around_values_and_accepts_empty_values()
    {
        var request = ParseComplete("GET / HTTP/1.1\r\nX-A: \t value with  spaces \t \r\nX-B:\r\nX-C:   \r\nX-D:v\r\n\r\n");

        Assert.Equal("value with  spaces", request.Headers["X-A"]);
        Assert.Equal("", request.Headers["X-B"]);
        Assert.Equal("", request.Headers["X-C"]);
        Assert.Equal("v", request.Headers["X-D"]);
    }

    [Fact]
    public void Looks_up_header_names_case_insensitively_and_keeps_their_original_case()
    {
        var request = ParseComplete("GET / HTTP/1.1\r\nhOsT: a\r\nSEC-WEBSOCKET-KEY: k\r\n\r\n");

        Assert.Equal("a", request.Headers["Host"]);
        Assert.Equal("a", request.Headers["HOST"]);
        Assert.Equal("k", request.Headers["Sec-WebSocket-Key"]);
        Assert.Equal(["hOsT", "SEC-WEBSOCKET-KEY"], request.Headers.Select(field => field.Key));
    }

    [Theory]
    [InlineData("GET  / HTTP/1.1")]
    [InlineData("GET /  HTTP/1.1")]
    [InlineData("GET / HTTP/1.1 ")]
    [InlineData("GET /")]
    [InlineData("GET / ")]
    [InlineData("GET")]
    [InlineData("GET /a b HTTP/1.1")]
    [InlineData("GET / http/1.1")]
    [InlineData("GET / HTTP/1")]
    [InlineData("GET / HTTP/1.10")]
    [InlineData("GET / HTTP/11.1")]
    [InlineData("GET / HTTP/1.x")]
    [InlineData("GET / HTTPS/1.1")]
    [InlineData("GET\t/ HTTP/1.1")]
    [InlineData(" GET / HTTP/1.1")]
    [InlineData("G@T / HTTP/1.1")]
    [InlineData("GET chat HTTP/1.1")]
    [InlineData("GET /caf\u00E9 HTTP/1.1")]
    [InlineData("GET /a\u007Fb HTTP/1.1")]
    [InlineData("GET * HTTP/1.1")]
    [InlineData("GET 1ws://host/ HTTP/1.1")]
    [InlineData("GET ://host/ HTTP/1.1")]
    [InlineData("GET example.com:80 HTTP/1.1")]
    public void Refuses_a_malformed_request_line(string requestLine)
    {
        AssertRefused(400, requestLine + "\r\nHost: a\r\n\r\n");
    }

    [Theory]
    [InlineData("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("\r\n\r\n")]
    [InlineData(" ")]
    [InlineData("GET\r")]
    [InlineData("\u0016\u0003\u0001\u0002\u0000")]
    public void Refuses_bytes_that_cannot_start_a_request_without_waiting_for_more(string text)
    {
        AssertRefused(400, text);
    }

    [Theory]
    [InlineData("HTTP/2.0")]
    [InlineData("HTTP/0.9")]
    [InlineData("HTTP/3.1")]
    public void Refuses_a_major_version_other_than_1_with_505(string version)
    {
        AssertRefused(505, "GET / " + version + "\r\nHost: a\r\n\r\n");
    }

    [Theory]
    [InlineData("HTTP/1.0")]
    [InlineData("HTTP/1.1")]
    [InlineData("HTTP/1.2")]
    public void Accepts_any_1x_version(string version)
    {
        Assert.Equal(version, ParseComplete("GET / " + version + "\r\nHost: a\r\n\r\n").Version);
    }

    [Theory]
    [InlineData("OPTIONS", "*", "*", "")]
    [InlineData("GET", "/", "/", "")]
    [InlineData("GET", "/?", "/", "")]
    [InlineData("GET", "/a/b%20c?x=1&y=%41", "/a/b%20c", "x=1&y=%41")]
    [InlineData("GET", "/a?b?c", "/a", "b?c")]
    [InlineData("GET", "http://example.com:8080/chat?x=1", "/chat", "x=1")]
    [InlineData("GET", "ws://example.com", "/", "")]
    [InlineData("GET", "wss://example.com?x", "/", "x")]
    [InlineData("POST", "/submit", "/submit", "")]
    [InlineData("PROPFIND", "/dav", "/dav", "")]
    public void Splits_the_target_into_path_and_query(string method, string target, string path, string query)
    {
        var request = ParseComplete(method + " " + target + " HTTP/1.1\r\nHost: a\r\n\r\n");

        Assert.Equal(method, request.Method);
        Assert.Equal(target, request.Target);
        Assert.Equal(path, request.Path);
        Assert.Equal(query, request.QueryString);
    }

    [Fact]
    public void Refuses_connect_with_501()
    {
        AssertRefused(501, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    }

    [Theory]
    [InlineData("Transfer-Encoding: chunked", 501)]
    [InlineData("transfer-encoding: identity", 501)]
    [InlineData("Content-Length: abc", 400)]
    [InlineData("Content-Length: -1", 400)]
    [InlineData("Content-Length: 1.5", 400)]
    [InlineData("Content-Length: ", 400)]
    [InlineData("Content-Length: 5, 5", 400)]
    [InlineData("Content-Length: 5\r\nContent-Length: 5", 400)]
    [InlineData("Content-Length: 1234567890123456789", 400)]
    [InlineData("Content-Length: 5\r\nTransfer-Encoding: chunked", 400)]
    public void Refuses_body_framing_it_cannot_delimit(string fields, int expectedStatus)
    {
        AssertRefused(expectedStatus, "POST / HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n\r\n");
    }

    [Fact]
    public void Accepts_a_plain_content_length()
    {
        var outcome = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 123456789012345678\r\n\r\nbody");

        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
        Assert.Equal("123456789012345678", outcome.Request!.Headers["Content-Length"]);
        Assert.Equal(outcome.Consumed, Bytes("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 123456789012345678\r\n\r\n").Length);
    }

    /// <summary>A request whose head, including the final blank line, is exactly <paramref name="length"/> bytes.</summary>
    private static string HeadOfLength(int length)
    {
        const string prefix = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
        const string suffix = "\r\n\r\n";
        string head = prefix + new string('p', length - prefix.Length - suffix.Length) + suffix;
        Assert.Equal(length, head.Length);
        return head;
    }

    [Fact]
    public void Accepts_a_head_of_exactly_8_KiB_by_default()
    {
        var parser = new HttpRequestParser();
        Assert.Equal(8192, parser.MaxHeadBytes);
        string head = HeadOfLength(8192);

        var outcome = Parse(head + "trailing", parser);

        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
        Assert.Equal(8192, outcome.Consumed);
    }

    [Fact]
    public void Accepts_a_head_of_exactly_8_KiB_in_one_byte_segments()
    {
        var data = Bytes(HeadOfLength(8192) + "trailing");

        var outcome = Parse(new HttpRequestParser(), Sequences.OneBytePerSegment(data));

        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
        Assert.Equal(8192, outcome.Consumed);
    }

    [Fact]
    public void Refuses_a_head_of_8_KiB_and_one_byte_with_431()
    {
        AssertRefused(431, HeadOfLength(8193));
    }

    [Fact]
    public void Refuses_an_unterminated_head_as_soon_as_it_reaches_the_limit()
    {
        var data = Bytes(HeadOfLength(9000));
        var parser = new HttpRequestParser();

        Assert.Equal(HttpParseStatus.NeedMoreData, Parse(parser, new ReadOnlySequence<byte>(data, 0, 8191)).Status);
        var outcome = Parse(parser, new ReadOnlySequence<byte>(data, 0, 8192));

        Assert.Equal(HttpParseStatus.Invalid, outcome.Status);
        Assert.Equal(431, outcome.Refusal!.StatusCode);
    }

    [Fact]
    public void Enforces_a_custom_head_limit_when_the_head_arrives_byte_by_byte()
    {
        var exact = Bytes(HeadOfLength(64));
        var parser = new HttpRequestParser(maxHeadBytes: 64);
        for (int length = 0; length < exact.Length; length++)
        {
            Assert.Equal(HttpParseStatus.NeedMoreData, Parse(parser, new ReadOnlySequence<byte>(exact, 0, length)).Status);
        }

        Assert.Equal(HttpParseStatus.Complete, Parse(parser, new ReadOnlySequence<byte>(exact)).Status);

        var over = Bytes(HeadOfLength(65));
        for (int length = 0; length < 64; length++)
        {
            Assert.Equal(HttpParseStatus.NeedMoreData, Parse(parser, new ReadOnlySequence<byte>(over, 0, length)).Status);
        }

        var refused = Parse(parser, new ReadOnlySequence<byte>(over, 0, 64));
        Assert.Equal(HttpParseStatus.Invalid, refused.Status);
        Assert.Equal(431, refused.Refusal!.StatusCode);
    }

    [Fact]
    public void Refuses_a_request_line_longer_than_the_limit_with_414()
    {
        AssertRefused(414, "GET /" + new string('a', 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n");
    }

    private static string HeadWithFields(int count) =>
        "GET / HTTP/1.1\r\n" + string.Concat(Enumerable.Range(0, count).Select(i => $"X-{i}: {i}\r\n")) + "\r\n";

    [Fact]
    public void Accepts_exactly_100_header_fields_by_default()
    {
        var parser = new HttpRequestParser();
        Assert.Equal(100, parser.MaxHeaderCount);

        var outcome = Parse(HeadWithFields(100), parser);

        Assert.Equal(HttpParseStatus.Complete, outcome.Status);
        Assert.Equal(100, outcome.Request!.Headers.Count);
        Assert.Equal("99", outcome.Request.Headers["X-99"]);
    }

    [Fact]
    public void Refuses_101_header_fields_with_431()
    {
        AssertRefused(431, HeadWithFields(101));
    }

    [Fact]
    public void Refuses_too_many_header_fields_before_the_head_is_complete()
    {
        string unterminated = HeadWithFields(101)[..^2];

        AssertRefused(431, unterminated);
        Assert.Equal(HttpParseStatus.NeedMoreData, Parse(HeadWithFields(100)[..^2]).Status);
    }

    [Fact]
    public void Enforces_a_custom_header_count()
    {
        Assert.Equal(HttpParseStatus.Complete, Parse("GET / HTTP/1.1\r\n\r\n", new HttpRequestParser(maxHeaderCount: 0)).Status);
        AssertRefused(431, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", new HttpRequestParser(maxHeaderCount: 0));
        Assert.Equal(HttpParseStatus.Complete, Parse(HeadWithFields(3), new HttpRequestParser(maxHeaderCount: 3)).Status);
        AssertRefused(431, HeadWithFields(4), new HttpRequestParser(maxHeaderCount: 3));
    }

    [Fact]
    public void Refuses_nonsensical_limits()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HttpRequestParser(maxHeadBytes: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HttpRequestParser(maxHeadBytes: 15));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HttpRequestParser(maxHeaderCount: -1));
    }

    [Fact]
    public void Decodes_the_query_lazily_with_the_first_value_winning()
    {
        var request = ParseComplete(
            "GET /?a=1&b=x+y&c=%C3%A9t%C3%A9&a=2&flag&=ignored&&d=%zz&e=a%3Db%26c&f=%E9 HTTP/1.1\r\nHost: h\r\n\r\n");

        var query = request.Query;

        Assert.Same(query, request.Query);
        Assert.Equal("1", query["a"]);
        Assert.Equal("x y", query["b"]);
        Assert.Equal("\u00E9t\u00E9", query["c"]);
        Assert.Equal("", query["flag"]);
        Assert.Equal("%zz", query["d"]);
        Assert.Equal("a=b&c", query["e"]);
        Assert.Equal("\uFFFD", query["f"]);
        Assert.False(query.ContainsKey(""));
        Assert.Equal(7, query.Count);
    }

    [Fact]
    public void Has_an_empty_query_when_the_target_has_none()
    {
        Assert.Empty(ParseComplete("GET /chat HTTP/1.1\r\nHost: h\r\n\r\n").Query);
        Assert.Empty(ParseComplete("GET /chat? HTTP/1.1\r\nHost: h\r\n\r\n").Query);
    }

    [Fact]
    public void Parses_cookies_from_every_cookie_field()
    {
        var request = ParseComplete(
            "GET / HTTP/1.1\r\nHost: h\r\nCookie: session=abc; theme=\"dark\";  spaced = v  ;novalue; =x; session=later\r\n" +
            "cookie: extra=1%20\r\n\r\n");

        var cookies = request.Cookies;

        Assert.Same(cookies, request.Cookies);
        Assert.Equal("abc", cookies["session"]);
        Assert.Equal("dark", cookies["theme"]);
        Assert.Equal("v", cookies["spaced"]);
        Assert.Equal("1%20", cookies["extra"]);
        Assert.Equal(4, cookies.Count);
    }

    [Fact]
    public void Has_no_cookies_without_a_cookie_field()
    {
        Assert.Empty(ParseComplete("GET / HTTP/1.1\r\nHost: h\r\n\r\n").Cookies);
    }
}
