using Tern.Protocol;

namespace Tern.Tests.Protocol;

/// <summary>permessage-deflate negotiation (RFC 7692 §7): offers in, the server's answer out, as header text.</summary>
public sealed class ExtensionNegotiationTests
{
    private const string Pooled = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

    /// <summary>Offer → answer with the default options (no context takeover either way, 15-bit windows). Null: declined.</summary>
    public static TheoryData<string?, string?> DefaultOptionCases => new()
    {
        { null, null },
        { "", null },
        { "x-webkit-deflate-frame", null },
        { "permessage-deflate", Pooled },
        { "PerMessage-Deflate", Pooled },
        // What browsers send.
        { "permessage-deflate; client_max_window_bits", Pooled },
        { "permessage-deflate;client_max_window_bits", Pooled },
        { "permessage-deflate ; client_max_window_bits=10", Pooled + "; client_max_window_bits=10" },
        { "permessage-deflate; server_no_context_takeover", Pooled },
        { "permessage-deflate; client_no_context_takeover", Pooled },
        { "permessage-deflate; server_max_window_bits=10", Pooled + "; server_max_window_bits=10" },
        { "permessage-deflate; server_max_window_bits=15", Pooled + "; server_max_window_bits=15" },
        { "permessage-deflate; server_max_window_bits=8", Pooled + "; server_max_window_bits=8" },
        { "permessage-deflate; server_max_window_bits=\"9\"", Pooled + "; server_max_window_bits=9" },
        // Invalid parameters make that offer unacceptable...
        { "permessage-deflate; server_max_window_bits", null },
        { "permessage-deflate; server_max_window_bits=7", null },
        { "permessage-deflate; server_max_window_bits=16", null },
        { "permessage-deflate; server_max_window_bits=010", null },
        { "permessage-deflate; server_max_window_bits=+9", null },
        { "permessage-deflate; server_max_window_bits=abc", null },
        { "permessage-deflate; client_max_window_bits=7", null },
        { "permessage-deflate; client_max_window_bits=16", null },
        { "permessage-deflate; server_no_context_takeover=1", null },
        { "permessage-deflate; client_no_context_takeover=\"\"", null },
        { "permessage-deflate; unknown_parameter", null },
        { "permessage-deflate; server_no_context_takeover; server_no_context_takeover", null },
        { "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", null },
        { "permessage-deflate; client_max_window_bits; client_max_window_bits=9", null },
        // ...and the next one is tried, in the client's order.
        { "permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=12", Pooled + "; server_max_window_bits=12" },
        { "permessage-deflate; bogus, permessage-deflate", Pooled },
        { "x-other; a=1, permessage-deflate; server_max_window_bits=11, permessage-deflate", Pooled + "; server_max_window_bits=11" },
        { "permessage-deflate; server_max_window_bits=9, permessage-deflate", Pooled + "; server_max_window_bits=9" },
        { "foo, , permessage-deflate", Pooled },
        // Quoted-string values with a comma inside do not split the list.
        { "x-other; a=\"1,2\", permessage-deflate", Pooled },
        // A malformed list is declined whole.
        { "permessage-deflate; =1", null },
        { "permessage-deflate; server_max_window_bits=\"10", null },
        { "permessage-deflate client_max_window_bits", null },
        { "permessage-deflate; a=b=c", null },
    };

    [Theory]
    [MemberData(nameof(DefaultOptionCases))]
    public void Default_options(string? offer, string? expected)
    {
        ExtensionNegotiation.Negotiate(offer, new WebSocketCompressionOptions(), out string? response);
        Assert.Equal(expected, response);
    }

    /// <summary>Options → offer → answer: parameters the client did not allow are never answered.</summary>
    public static TheoryData<int, int, bool, bool, string, string?> OptionCases => new()
    {
        // serverBits, clientBits, serverTakeover, clientTakeover
        { 15, 15, true, true, "permessage-deflate", "permessage-deflate" },
        { 15, 15, true, true, "permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover" },
        { 15, 15, true, true, "permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover" },
        { 15, 15, true, false, "permessage-deflate", "permessage-deflate; client_no_context_takeover" },
        { 15, 15, false, true, "permessage-deflate", "permessage-deflate; server_no_context_takeover" },
        // client_max_window_bits only when the client offered it.
        { 15, 10, true, true, "permessage-deflate", "permessage-deflate" },
        { 15, 10, true, true, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=10" },
        { 15, 10, true, true, "permessage-deflate; client_max_window_bits=12", "permessage-deflate; client_max_window_bits=10" },
        { 15, 12, true, true, "permessage-deflate; client_max_window_bits=9", "permessage-deflate; client_max_window_bits=9" },
        { 15, 15, true, true, "permessage-deflate; client_max_window_bits=15", "permessage-deflate; client_max_window_bits=15" },
        { 15, 8, true, true, "permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=8" },
        // server_max_window_bits: the smaller of the offer and the server's limit, and only when offered.
        { 10, 15, true, true, "permessage-deflate", "permessage-deflate" },
        { 10, 15, true, true, "permessage-deflate; server_max_window_bits=12", "permessage-deflate; server_max_window_bits=10" },
        { 12, 15, true, true, "permessage-deflate; server_max_window_bits=9", "permessage-deflate; server_max_window_bits=9" },
        { 9, 9, true, true, "permessage-deflate; server_max_window_bits=15; client_max_window_bits", "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9" },
    };

    [Theory]
    [MemberData(nameof(OptionCases))]
    public void Other_options(int serverBits, int clientBits, bool serverTakeover, bool clientTakeover, string offer, string? expected)
    {
        var options = new WebSocketCompressionOptions
        {
            ServerMaxWindowBits = serverBits, ClientMaxWindowBits = clientBits, ServerContextTakeover = serverTakeover, ClientContextTakeover = clientTakeover,
        };
        ExtensionNegotiation.Negotiate(offer, options, out string? response);
        Assert.Equal(expected, response);
    }

    [Fact]
    public void The_parameters_in_effect_follow_the_answer()
    {
        PerMessageDeflateParameters? agreed = ExtensionNegotiation.Negotiate(
            "permessage-deflate; server_max_window_bits=8; client_max_window_bits", new WebSocketCompressionOptions { ClientMaxWindowBits = 11 }, out _);
        Assert.Equal(new PerMessageDeflateParameters(true, true, 8, 11), agreed);
        agreed = ExtensionNegotiation.Negotiate("permessage-deflate", new WebSocketCompressionOptions { ServerContextTakeover = true, ClientContextTakeover = true, ServerMaxWindowBits = 12 }, out _);
        Assert.Equal(new PerMessageDeflateParameters(false, false, 12, 15), agreed);
    }

    [Fact]
    public void Parsing_keeps_order_names_and_unquoted_values()
    {
        Assert.True(ExtensionNegotiation.TryParse("a; x=1; y=\"q\\\"z\", b", out List<WebSocketExtension> parsed));
        Assert.Equal(["a", "b"], parsed.Select(e => e.Name));
        Assert.Equal([new("x", "1"), new("y", "q\"z")], parsed[0].Parameters);
        Assert.Empty(parsed[1].Parameters);
    }

    [Theory]
    [InlineData(15, 15, false, false, "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits")]
    [InlineData(10, 9, true, true, "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9")]
    public void The_client_offers_its_options(int serverBits, int clientBits, bool serverTakeover, bool clientTakeover, string expected)
    {
        var options = new WebSocketCompressionOptions
        {
            ServerMaxWindowBits = serverBits, ClientMaxWindowBits = clientBits, ServerContextTakeover = serverTakeover, ClientContextTakeover = clientTakeover,
        };
        Assert.Equal(expected, ExtensionNegotiation.CreateOffer(options));
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("", true)]
    [InlineData("permessage-deflate", true)]
    [InlineData("permessage-deflate; server_no_context_takeover; client_no_context_takeover", true)]
    [InlineData("permessage-deflate; client_max_window_bits=9; server_max_window_bits=12", true)]
    [InlineData("permessage-deflate; client_max_window_bits", false)]
    [InlineData("permessage-deflate; server_max_window_bits", false)]
    [InlineData("permessage-deflate; server_max_window_bits=16", false)]
    [InlineData("permessage-deflate; foo", false)]
    [InlineData("permessage-deflate; server_no_context_takeover; server_no_context_takeover", false)]
    [InlineData("permessage-deflate, permessage-deflate", false)]
    [InlineData("x-webkit-deflate-frame", false)]
    [InlineData("permessage-deflate; a=\"", false)]
    public void The_client_checks_the_answer(string? answer, bool valid)
    {
        Assert.Equal(valid, ExtensionNegotiation.TryAcceptResponse(answer, new WebSocketCompressionOptions(), out _, out string? error));
        Assert.Equal(valid, error is null);
    }

    [Fact]
    public void An_answer_with_a_larger_server_window_than_offered_is_refused()
    {
        var options = new WebSocketCompressionOptions { ServerMaxWindowBits = 10 };
        Assert.False(ExtensionNegotiation.TryAcceptResponse("permessage-deflate; server_max_window_bits=12", options, out _, out _));
        Assert.False(ExtensionNegotiation.TryAcceptResponse("permessage-deflate", options, out _, out _));
        Assert.True(ExtensionNegotiation.TryAcceptResponse("permessage-deflate; server_max_window_bits=9", options, out PerMessageDeflateParameters? agreed, out _));
        Assert.Equal(9, agreed!.ServerMaxWindowBits);
    }

    [Fact]
    public void An_extension_answered_without_an_offer_is_refused()
    {
        Assert.False(ExtensionNegotiation.TryAcceptResponse("permessage-deflate", options: null, out _, out string? error));
        Assert.Contains("not offered", error);
    }

    [Fact]
    public void The_client_applies_the_answer()
    {
        Assert.True(ExtensionNegotiation.TryAcceptResponse("permessage-deflate; client_max_window_bits=10", new WebSocketCompressionOptions { ClientContextTakeover = true }, out PerMessageDeflateParameters? agreed, out _));
        Assert.Equal(new PerMessageDeflateParameters(false, false, 15, 10), agreed);
        Assert.True(ExtensionNegotiation.TryAcceptResponse("permessage-deflate; client_no_context_takeover", new WebSocketCompressionOptions { ClientContextTakeover = true }, out agreed, out _));
        Assert.True(agreed!.ClientNoContextTakeover);
    }
}
