using Tern.Protocol;

namespace Tern.Tests.Protocol;

public class HttpRequestFramingTests
{
    private const long Limit = 64 * 1024;

    private static HttpHeaderCollection Fields(params string[] lines) =>
        new(lines.Select(line => new KeyValuePair<string, string>(line[..line.IndexOf(':')], line[(line.IndexOf(':') + 1)..].Trim())));

    /// <summary>Parses a head from its bytes (the framing fields pass the parser's own check first).</summary>
    private static HttpRequestHead Head(string method, params string[] fields) =>
        HttpRequestParserTests.ParseComplete($"{method} /api HTTP/1.1\r\nHost: a\r\n" + string.Concat(fields.Select(f => f + "\r\n")) + "\r\n");

    [Theory]
    [InlineData("0", 0)]
    [InlineData("5", 5)]
    [InlineData("007", 7)]
    [InlineData("65536", 65536)]
    [InlineData("999999999999999999", 999_999_999_999_999_999)]
    public void Reads_a_single_plain_content_length(string value, long expected)
    {
        Assert.Null(HttpRequestFraming.ReadContentLength(Fields("Content-Length: " + value), out long length));
        Assert.Equal(expected, length);
    }

    [Fact]
    public void No_content_length_reads_as_minus_one()
    {
        Assert.Null(HttpRequestFraming.ReadContentLength(Fields("Content-Type: application/json"), out long length));
        Assert.Equal(-1, length);
    }

    [Theory]
    [InlineData("+5")]
    [InlineData("-1")]
    [InlineData(" ")]
    [InlineData("")]
    [InlineData("5 5")]
    [InlineData("5,5")]
    [InlineData("5, 5")]
    [InlineData("0x10")]
    [InlineData("1e3")]
    [InlineData("1.0")]
    [InlineData("²")]
    [InlineData("1234567890123456789")]
    [InlineData("99999999999999999999999")]
    public void Refuses_a_content_length_that_is_not_a_plain_number_with_400(string value)
    {
        HandshakeRefusal? refusal = HttpRequestFraming.ReadContentLength(Fields("Content-Length: " + value), out long length);
        Assert.Equal(400, refusal?.StatusCode);
        Assert.Equal(-1, length);
    }

    [Theory]
    [InlineData("5", "6")]
    [InlineData("5", "5")]
    public void Refuses_repeated_content_length_lines_with_400(string first, string second)
    {
        Assert.Equal(400, HttpRequestFraming.ReadContentLength(Fields("Content-Length: " + first, "content-length: " + second), out _)?.StatusCode);
    }

    [Theory]
    [InlineData("chunked")]
    [InlineData("gzip, chunked")]
    [InlineData("identity")]
    public void Refuses_any_transfer_coding_with_501_naming_it(string coding)
    {
        HandshakeRefusal? refusal = HttpRequestFraming.ReadContentLength(Fields("Transfer-Encoding: " + coding), out _);
        Assert.Equal(501, refusal?.StatusCode);
        Assert.Contains("Transfer-Encoding", refusal!.Reason);
        Assert.Contains("not implemented", refusal.Reason);
    }

    [Theory]
    [InlineData("Content-Length: 5", "Transfer-Encoding: chunked")]
    [InlineData("Transfer-Encoding: chunked", "Content-Length: 5")]
    [InlineData("transfer-encoding: identity", "content-length: 0")]
    public void Refuses_transfer_encoding_with_content_length_as_smuggling_with_400(string first, string second)
    {
        HandshakeRefusal? refusal = HttpRequestFraming.ReadContentLength(Fields(first, second), out _);
        Assert.Equal(400, refusal?.StatusCode);
        Assert.Contains("both", refusal!.Reason);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("PATCH")]
    public void A_method_with_a_meaningful_body_needs_content_length_411(string method)
    {
        Assert.Equal(411, HttpRequestFraming.GetBodyLength(Head(method), Limit, out long length)?.StatusCode);
        Assert.Equal(0, length);
        Assert.Null(HttpRequestFraming.GetBodyLength(Head(method, "Content-Length: 0"), Limit, out length));
        Assert.Equal(0, length);
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    [InlineData("DELETE")]
    [InlineData("OPTIONS")]
    public void Other_methods_without_content_length_have_no_body(string method)
    {
        Assert.Null(HttpRequestFraming.GetBodyLength(Head(method), Limit, out long length));
        Assert.Equal(0, length);
    }

    [Theory]
    [InlineData("POST", 1)]
    [InlineData("POST", Limit)]
    [InlineData("GET", 10)]
    [InlineData("DELETE", 3)]
    public void A_declared_length_within_the_limit_is_read(string method, long declared)
    {
        Assert.Null(HttpRequestFraming.GetBodyLength(Head(method, $"Content-Length: {declared}"), Limit, out long length));
        Assert.Equal(declared, length);
    }

    [Theory]
    [InlineData(Limit, Limit + 1)]
    [InlineData(0, 1)]
    [InlineData(10, 999_999_999_999_999_999)]
    public void A_declared_length_over_the_limit_gets_413_naming_the_limit(long limit, long declared)
    {
        HandshakeRefusal? refusal = HttpRequestFraming.GetBodyLength(Head("POST", $"Content-Length: {declared}"), limit, out long length);
        Assert.Equal(413, refusal?.StatusCode);
        Assert.Contains($"{limit} bytes", refusal!.Reason);
        Assert.Equal(0, length);
    }

    [Fact]
    public void A_zero_limit_still_accepts_empty_bodies()
    {
        Assert.Null(HttpRequestFraming.GetBodyLength(Head("POST", "Content-Length: 0"), 0, out long length));
        Assert.Equal(0, length);
    }

    [Fact]
    public void A_negative_limit_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => HttpRequestFraming.GetBodyLength(Head("GET"), -1, out _));
    }

    [Fact]
    public void Framing_refusals_come_before_the_method_and_size_checks()
    {
        var head = new HttpRequestHead("POST", "/", "HTTP/1.1", Fields("Transfer-Encoding: chunked"));
        Assert.Equal(501, HttpRequestFraming.GetBodyLength(head, Limit, out _)?.StatusCode);
        head = new HttpRequestHead("POST", "/", "HTTP/1.1", Fields("Content-Length: 99999999", "Content-Length: 99999999"));
        Assert.Equal(400, HttpRequestFraming.GetBodyLength(head, Limit, out _)?.StatusCode);
    }

    [Theory]
    [InlineData("GET", true)]
    [InlineData("HEAD", true)]
    [InlineData("POST", false)]
    [InlineData("PUT", false)]
    [InlineData("DELETE", false)]
    [InlineData("get", false)]
    public void Only_GET_and_HEAD_bodies_are_ignored(string method, bool ignored)
    {
        Assert.Equal(ignored, HttpRequestFraming.IgnoresBody(method));
    }
}
