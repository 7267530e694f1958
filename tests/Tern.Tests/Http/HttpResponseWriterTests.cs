using System.Buffers;
using System.Text;
using Tern.Http;

namespace Tern.Tests.Http;

/// <summary>What an API's responses look like on the wire: statuses, JSON bodies, repeated headers.</summary>
public class HttpResponseWriterTests
{
    private static string Write(HttpResponse response, bool headOnly = false)
    {
        var output = new ArrayBufferWriter<byte>();
        HttpResponseWriter.Write(output, response, headOnly);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }

    [Theory]
    [InlineData(200, "OK")]
    [InlineData(201, "Created")]
    [InlineData(400, "Bad Request")]
    [InlineData(401, "Unauthorized")]
    [InlineData(403, "Forbidden")]
    [InlineData(409, "Conflict")]
    [InlineData(413, "Content Too Large")]
    [InlineData(429, "Too Many Requests")]
    public void A_JSON_response_carries_its_status_type_length_and_bytes(int status, string reason)
    {
        string wire = Write(HttpResponse.Json(status, """{"error":"é"}"""));

        Assert.Equal($"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: 14\r\nConnection: close\r\n\r\n" + """{"error":"é"}""", wire);
    }

    [Fact]
    public void JSON_bytes_are_sent_as_given()
    {
        string wire = Write(HttpResponse.Json(200, "[1,2]"u8.ToArray()));

        Assert.EndsWith("Content-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n[1,2]", wire);
    }

    [Fact]
    public void A_204_has_neither_length_nor_body()
    {
        Assert.Equal("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", Write(new HttpResponse(204, "ignored"u8.ToArray())));
    }

    [Fact]
    public void Repeated_headers_are_written_once_each_in_order()
    {
        var response = new HttpResponse(200);
        response.Headers.Add(new("Set-Cookie", "a=1; HttpOnly"));
        response.Headers.Add(new("Set-Cookie", "b=2; Path=/"));

        Assert.Equal("HTTP/1.1 200 OK\r\nSet-Cookie: a=1; HttpOnly\r\nSet-Cookie: b=2; Path=/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Write(response));
    }

    [Theory]
    [InlineData(100)]
    [InlineData(101)]
    [InlineData(199)]
    [InlineData(600)]
    [InlineData(0)]
    public void Only_final_statuses_make_a_response(int status)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HttpResponse(status));
        Assert.Throws<ArgumentOutOfRangeException>(() => HttpResponse.Json(status, "{}"));
    }

    [Fact]
    public void A_null_JSON_string_is_refused()
    {
        Assert.Throws<ArgumentNullException>(() => HttpResponse.Json(200, (string)null!));
    }
}
