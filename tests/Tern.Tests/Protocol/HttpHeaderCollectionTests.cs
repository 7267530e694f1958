using Tern.Protocol;

namespace Tern.Tests.Protocol;

public class HttpHeaderCollectionTests
{
    private static HttpHeaderCollection Headers(params (string Name, string Value)[] fields) =>
        new(fields.Select(field => new KeyValuePair<string, string>(field.Name, field.Value)));

    [Fact]
    public void Joins_the_values_of_a_repeated_name_with_a_comma()
    {
        var headers = Headers(("Accept", "a"), ("Host", "h"), ("accept", "b"), ("ACCEPT", "c"));

        Assert.Equal("a, b, c", headers["Accept"]);
        Assert.Equal("h", headers["HOST"]);
        Assert.Null(headers["Missing"]);
    }

    [Fact]
    public void Lists_the_values_of_a_name_in_order()
    {
        var headers = Headers(("X-A", "1"), ("Host", "h"), ("x-a", "2, 3"));

        Assert.Equal(["1", "2, 3"], headers.GetValues("X-a"));
        Assert.Equal(["h"], headers.GetValues("host"));
        Assert.Empty(headers.GetValues("Missing"));
    }

    [Fact]
    public void Counts_and_enumerates_field_lines_as_received()
    {
        var headers = Headers(("Host", "h"), ("X-A", "1"), ("x-a", "2"));

        Assert.Equal(3, headers.Count);
        Assert.Equal(
            [new("Host", "h"), new("X-A", "1"), new("x-a", "2")],
            headers.ToList());
        Assert.True(headers.Contains("X-A"));
        Assert.True(headers.Contains("host"));
        Assert.False(headers.Contains("X-B"));
    }

    [Theory]
    [InlineData("Upgrade", true)]
    [InlineData("upgrade", true)]
    [InlineData("keep-alive, Upgrade", true)]
    [InlineData("keep-alive,upgrade", true)]
    [InlineData("Upgrade , keep-alive", true)]
    [InlineData("\tUPGRADE\t", true)]
    [InlineData("keep-alive", false)]
    [InlineData("Upgrades", false)]
    [InlineData("no-upgrade", false)]
    [InlineData("keep-alive Upgrade", false)]
    [InlineData("", false)]
    public void Finds_a_token_in_a_comma_separated_list_case_insensitively(string value, bool expected)
    {
        Assert.Equal(expected, Headers(("Connection", value)).ContainsToken("connection", "upgrade"));
    }

    [Fact]
    public void Finds_a_token_on_any_line_of_a_repeated_name()
    {
        var headers = Headers(("Connection", "keep-alive"), ("Host", "upgrade"), ("CONNECTION", "Upgrade"));

        Assert.True(headers.ContainsToken("Connection", "upgrade"));
        Assert.False(headers.ContainsToken("Upgrade", "upgrade"));
    }

    [Fact]
    public void Lists_every_token_across_lines_trimmed_and_without_empty_ones()
    {
        var headers = Headers(("Sec-WebSocket-Protocol", "chat, ,superchat ,"), ("X", "y"),
            ("sec-websocket-protocol", "\tv2.json"), ("Sec-WebSocket-Protocol", ""));

        Assert.Equal(["chat", "superchat", "v2.json"], headers.GetTokens("Sec-WebSocket-Protocol"));
        Assert.Empty(headers.GetTokens("Missing"));
    }

    [Fact]
    public void Is_empty_when_built_from_nothing()
    {
        Assert.Equal(0, HttpHeaderCollection.Empty.Count);
        Assert.Empty(HttpHeaderCollection.Empty);
        Assert.Equal(0, Headers().Count);
    }

    [Theory]
    [InlineData("", "v")]
    [InlineData("Bad Name", "v")]
    [InlineData("Bad:Name", "v")]
    [InlineData("Name", "line\r\nInjected: yes")]
    [InlineData("Name", "nul\0")]
    [InlineData("Name", "wide \u0100")]
    public void Refuses_fields_that_could_not_have_been_received(string name, string value)
    {
        Assert.Throws<ArgumentException>(() => Headers((name, value)));
    }

    [Fact]
    public void Copies_the_fields_it_is_given()
    {
        var source = new List<KeyValuePair<string, string>> { new("Host", "h") };
        var headers = new HttpHeaderCollection(source);

        source.Add(new("X", "y"));

        Assert.Equal(1, headers.Count);
    }
}
