using Tern.Protocol;

namespace Tern.Tests.Protocol;

/// <summary>The server's choices in the opening handshake: which origins may connect, which subprotocol is answered.</summary>
public class HandshakeSelectionTests
{
    private static HttpRequestHead RequestWith(params string[] extraFields) =>
        HttpRequestParserTests.ParseComplete(
            "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
            string.Concat(extraFields.Select(field => field + "\r\n")) + "\r\n");

    private static readonly string[] Allowed = ["https://chat.example.com", "http://localhost:8080"];

    [Theory]
    [InlineData("Origin: https://chat.example.com")]
    [InlineData("Origin: HTTPS://Chat.Example.COM")] // scheme and host are case-insensitive
    [InlineData("Origin: http://localhost:8080")]
    public void AnAllowedOriginPasses(string field)
    {
        Assert.Null(Handshake.CheckOrigin(RequestWith(field), Allowed));
    }

    [Theory]
    [InlineData("Origin: https://evil.example.com")]
    [InlineData("Origin: http://chat.example.com")] // another scheme is another origin
    [InlineData("Origin: http://localhost:8081")] // and so is another port
    [InlineData("Origin: https://chat.example.com.evil.com")] // no prefix matching
    [InlineData("Origin: null")] // sandboxed frames and file: pages
    [InlineData("Origin: https://chat.example.com", "Origin: https://evil.example.com")]
    [InlineData("Origin: https://chat.example.com", "Origin: https://chat.example.com")]
    public void AnyOtherOriginIsRefusedWith403(params string[] fields)
    {
        HandshakeRefusal? refusal = Handshake.CheckOrigin(RequestWith(fields), Allowed);
        Assert.NotNull(refusal);
        Assert.Equal(403, refusal.StatusCode);
        Assert.Contains("origin", refusal.Reason, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void AClientWithoutOriginIsNotABrowserAndPasses()
    {
        Assert.Null(Handshake.CheckOrigin(RequestWith(), Allowed));
    }

    [Fact]
    public void AnEmptyListAllowsEveryOrigin()
    {
        Assert.Null(Handshake.CheckOrigin(RequestWith("Origin: https://anything.example"), []));
        Assert.Null(Handshake.CheckOrigin(RequestWith("Origin: a", "Origin: b"), []));
    }

    [Theory]
    [InlineData(new[] { "chat", "superchat" }, new[] { "superchat", "chat" }, "superchat")] // the server's preference wins
    [InlineData(new[] { "v2.chat", "v1.chat" }, new[] { "v1.chat" }, "v1.chat")]
    [InlineData(new[] { "Chat" }, new[] { "chat" }, null)] // names are case-sensitive
    [InlineData(new[] { "chat" }, new string[0], null)] // a server without subprotocols answers with none
    [InlineData(new string[0], new[] { "chat" }, null)]
    public void TheFirstOfTheServersSubprotocolsThatTheClientOffersIsChosen(string[] offered, string[] supported, string? expected)
    {
        Assert.Equal(expected, Handshake.SelectSubprotocol(offered, supported));
    }

    [Fact]
    public void SelectionWorksOnTheOfferAsParsedFromTheRequest()
    {
        HttpRequestHead request = RequestWith("Sec-WebSocket-Protocol: mqtt, wamp.2.json", "Sec-WebSocket-Protocol: chat");
        Assert.Equal("chat", Handshake.SelectSubprotocol(Handshake.GetOfferedSubprotocols(request), ["chat", "wamp.2.json"]));
    }
}
