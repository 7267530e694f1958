using System.Text;

using Tern.Tests.Conformance;

// Its own namespace: ConformanceSummaryTests counts the case classes of Tern.Tests.Conformance against Autobahn's
// categories, and these cases are Tern's own.
namespace Tern.Tests.Conformance.Streaming;

/// <summary>
/// The server under test for <see cref="StreamedEchoTests"/>: an echo that reads each message as a stream
/// (<see cref="WebSocketConnection.ReadMessageStreamAsync"/>) and sends it back as it arrives, one fragment per chunk
/// (<see cref="WebSocketConnection.BeginMessageAsync"/>), with permessage-deflate available.
/// </summary>
public sealed class StreamedEchoServer : ConformanceServer
{
    private protected override string[]? SampleArguments() => null;

    private protected override void Configure(WebSocketServer server) => Server.LargeMessageTests.MapStreamingEcho(server);

    private protected override void ConfigureOptions(WebSocketServerOptions options) =>
        options.Compression = new WebSocketCompressionOptions { MinimumMessageSize = 0 };
}

/// <summary>
/// Autobahn-style cases (categories 5, 6, 9 and 12 in spirit) against a server that streams every message through:
/// the raw client checks every frame it gets (no interleaving, RSV1 on a first frame only, valid fragmentation),
/// reassembles and inflates the echoes, and the server must still fail fast on bad input while streaming.
/// </summary>
public class StreamedEchoTests(StreamedEchoServer server) : ConformanceCases<StreamedEchoServer>(server)
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task Fragments_with_a_ping_between_come_back_with_the_pong_first(int chopSize)
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Concat(WireFrame.Text("fragment1", fin: false), WireFrame.Ping("between"), WireFrame.Continuation("fragment2", fin: true)), chopSize);
        await client.ExpectPongAsync("between");
        await client.ExpectTextAsync("fragment1fragment2");
        await client.CloseNormallyAsync();
    }

    [Fact]
    public async Task Invalid_utf8_in_a_later_fragment_fails_with_1007_while_streaming()
    {
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Concat(
            WireFrame.Text("κόσμε", fin: false),
            WireFrame.Encode(Op.Continuation, [0xCE, 0xBA, 0xF4, 0x90, 0x80, 0x80], fin: false),
            WireFrame.Continuation("never read", fin: true)));
        await ExpectFailureMidEchoAsync(client, 1007);
    }

    [Theory]
    [InlineData(64 * 1024)]
    [InlineData(1_000_003)]
    public async Task Four_MiB_in_fragments_comes_back_whole(int fragmentSize)
    {
        byte[] payload = new byte[4 << 20];
        new Random(fragmentSize).NextBytes(payload);
        await using RawClient client = await OpenAsync();
        await client.SendAsync(WireFrame.Fragmented(Op.Binary, payload, fragmentSize));
        await client.ExpectMessageAsync(Op.Binary, payload, TimeSpan.FromSeconds(20));
        await client.CloseNormallyAsync();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    public async Task A_compressed_message_is_streamed_back_compressed_as_one_message(int fragmentSize)
    {
        byte[] text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 4000).Select(i => $"{{\"id\":{i},\"name\":\"κόσμε\"}},")));
        await using RawClient client = await RawClient.OpenWithExtensionsAsync(Port, Fixture.UseTls, "permessage-deflate");
        for (int round = 0; round < 2; round++)
        {
            await client.SendMessageAsync(Op.Text, text, fragmentSize: fragmentSize);
            ServerEvent echo = await client.ExpectMessageAsync(Op.Text, text);
            Assert.True(echo.Compressed, "the echo went out uncompressed");
        }

        await client.CloseNormallyAsync();
    }

    [Fact]
    public async Task A_message_over_the_limit_fails_with_1009_once_the_total_passes_it()
    {
        await using RawClient client = await OpenAsync();
        // Each fragment alone is within the limit; the total is not.
        byte[] fragment = new byte[(int)(ConformanceServer.MaxMessageSize / 4)];
        await client.SendAsync(WireFrame.Concat([.. Enumerable.Range(0, 5).Select(i => WireFrame.Encode(i == 0 ? Op.Binary : Op.Continuation, fragment, fin: i == 4))]));
        await ExpectFailureMidEchoAsync(client, 1009);
    }

    /// <summary>
    /// The server fails the connection while its echo of the bad message is under way: its close frame comes in the
    /// middle of that fragmented echo (RFC 6455 allows control frames between fragments), and the echo never ends. So
    /// this expects the close frame and answers it, without <see cref="RawClient.ExpectFailureAsync"/>'s check that TCP
    /// does not end mid-message; the base class still checks that the server released the connection.
    /// </summary>
    private static async Task ExpectFailureMidEchoAsync(RawClient client, int code)
    {
        await client.ExpectCloseFrameAsync(code);
        await client.SendAsync(WireFrame.Close(code));
    }
}
