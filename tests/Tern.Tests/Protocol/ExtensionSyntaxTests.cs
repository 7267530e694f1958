using Tern.Protocol;

namespace Tern.Tests.Protocol;

/// <summary>
/// The grammar of <c>Sec-WebSocket-Extensions</c> (RFC 6455 §9.1 with RFC 9110's lists, tokens and quoted strings), and
/// the client's checks of the server's answer, at their edges.
/// </summary>
public sealed class ExtensionSyntaxTests
{
    [Fact]
    public void NoHeaderIsAnEmptyList()
    {
        Assert.True(ExtensionNegotiation.TryParse(null, out List<WebSocketExtension> extensions));
        Assert.Empty(extensions);
    }

    [Theory]
    [InlineData("permessage-deflate ; client_max_window_bits = 10", "client_max_window_bits", "10")]
    [InlineData("permessage-deflate;client_max_window_bits=\t10", "client_max_window_bits", "10")]
    [InlineData("permessage-deflate; x=\"1\\0\"", "x", "10")] // a quoted pair stands for its character
    [InlineData("permessage-deflate; x=\"a b\tc\"", "x", "a b\tc")] // spaces and tabs are allowed inside quotes
    [InlineData("permessage-deflate; x=\"\"", "x", "")]
    [InlineData("permessage-deflate; x", "x", null)]
    public void WhitespaceAroundSeparatorsAndQuotedValuesAreRead(string header, string parameter, string? value)
    {
        Assert.True(ExtensionNegotiation.TryParse(header, out List<WebSocketExtension> extensions));
        WebSocketExtension extension = Assert.Single(extensions);
        Assert.Equal("permessage-deflate", extension.Name);
        Assert.Equal(new KeyValuePair<string, string?>(parameter, value), Assert.Single(extension.Parameters));
    }

    [Fact]
    public void ElementsAreSplitOnCommasAndEmptyElementsSkipped()
    {
        Assert.True(ExtensionNegotiation.TryParse(" , a; p=1 ,, b , ", out List<WebSocketExtension> extensions));
        Assert.Equal(["a", "b"], extensions.Select(e => e.Name));
        Assert.Equal("1", extensions[0].Parameters[0].Value);
        Assert.Empty(extensions[1].Parameters);
    }

    [Theory]
    [InlineData(";x")] // no extension name
    [InlineData("=x")]
    [InlineData("permessage-deflate x")] // parameters follow a semicolon
    [InlineData("permessage-deflate; ;")] // a semicolon without a parameter
    [InlineData("permessage-deflate;=1")]
    [InlineData("permessage-deflate; x=")] // '=' without a value, at the end
    [InlineData("permessage-deflate; x= ;y")] // ... and before the next parameter
    [InlineData("permessage-deflate; x=\"abc")] // an unterminated quoted string
    [InlineData("permessage-deflate; x=\"abc\\")] // a quoted pair cut off
    [InlineData("permessage-deflate; x=\"a\u0001b\"")] // control characters inside quotes
    [InlineData("permessage-deflate; x=\"a\u007Fb\"")]
    [InlineData("permessage-deflate; x=\"a\\\u0001b\"")] // ... even escaped
    [InlineData("permessage-deflate; x=a b")]
    [InlineData("permessage-deflate; x=\"1\"2")]
    [InlineData("perm\u00E9ssage-deflate")] // not a token
    public void MalformedListsAreRejected(string header)
    {
        Assert.False(ExtensionNegotiation.TryParse(header, out _));
    }

    private static readonly WebSocketCompressionOptions ClientWindow10 = new() { ServerMaxWindowBits = 10 };

    [Fact]
    public void TheClientOfferNeedsOptions()
    {
        Assert.Throws<ArgumentNullException>(() => ExtensionNegotiation.CreateOffer(null!));
    }

    [Theory]
    [InlineData("permessage-deflate; server_max_window_bits=10", 10)]
    [InlineData("permessage-deflate; server_max_window_bits=9", 9)]
    public void AServerWindowUpToTheOneTheClientAskedForIsAccepted(string answer, int bits)
    {
        Assert.True(ExtensionNegotiation.TryAcceptResponse(answer, ClientWindow10, out PerMessageDeflateParameters? parameters, out string? error));
        Assert.Null(error);
        Assert.Equal(bits, parameters!.ServerMaxWindowBits);
    }

    [Theory]
    [InlineData("permessage-deflate; server_max_window_bits=11", "server_max_window_bits")]
    [InlineData("permessage-deflate", "server_max_window_bits")] // no value means 15, more than asked
    [InlineData("permessage-deflate; x=\"", "malformed")]
    [InlineData("permessage-deflate; server_no_context_takeover; server_no_context_takeover", "invalid or duplicate")]
    [InlineData("permessage-deflate; client_max_window_bits", "invalid or duplicate")] // a value is required in an answer
    public void AnAnswerTheClientCannotTakeFailsWithAReason(string answer, string reasonPart)
    {
        Assert.False(ExtensionNegotiation.TryAcceptResponse(answer, ClientWindow10, out PerMessageDeflateParameters? parameters, out string? error));
        Assert.Null(parameters);
        Assert.Contains(reasonPart, error, StringComparison.OrdinalIgnoreCase);
    }
}

/// <summary>Client masking keys: unpredictable to a script on the path means at least varied and not shared.</summary>
public sealed class MaskKeyGeneratorTests
{
    [Fact]
    public void KeysVaryInEveryBitAndFromOneToTheNext()
    {
        var generator = MaskKeyGenerator.Create();
        const int Count = 4096;
        var setCounts = new int[32];
        uint previous = generator.Next();
        int repeats = 0;
        for (int i = 0; i < Count; i++)
        {
            uint key = generator.Next();
            repeats += key == previous ? 1 : 0;
            for (int bit = 0; bit < 32; bit++)
            {
                setCounts[bit] += (int)((key >> bit) & 1);
            }

            previous = key;
        }

        Assert.Equal(0, repeats);
        // A fair bit is set 2048 ± 32 (one standard deviation) times in 4096 keys; 40–60 % is ~13 deviations wide.
        Assert.All(setCounts, count => Assert.InRange(count, Count * 4 / 10, Count * 6 / 10));
    }

    [Fact]
    public void EachGeneratorHasItsOwnSequence()
    {
        var first = MaskKeyGenerator.Create();
        var second = MaskKeyGenerator.Create();
        uint[] a = Enumerable.Range(0, 8).Select(_ => first.Next()).ToArray();
        uint[] b = Enumerable.Range(0, 8).Select(_ => second.Next()).ToArray();
        Assert.NotEqual(a, b);
    }
}
