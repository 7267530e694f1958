using System.Net.WebSockets;
using System.Text;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Interop;

/// <summary>
/// Fragmented sends and streamed reads against ClientWebSocket, an independent implementation: it sees Tern's fragments
/// one by one (EndOfMessage false, then true), and its own fragments are read by Tern as a stream. Without deflate, and
/// with it (DangerousDeflateOptions, with and without context takeover).
/// </summary>
public sealed class ClientWebSocketLargeMessageTests
{
    private static readonly byte[] Text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 2000).Select(i => $"{{\"n\":{i},\"s\":\"κόσμε 𝄞\"}},")));

    private static readonly int[] PartEnds = [10_000, 10_001, 35_000, Text.Length];

    private static Action<WebSocketServerOptions> Options(string deflate) => o => o.Compression = deflate == "off" ? null
        : new WebSocketCompressionOptions { ServerContextTakeover = deflate == "takeover", ClientContextTakeover = deflate == "takeover" };

    private static Action<ClientWebSocketOptions> ClientOptions(string deflate) => o =>
    {
        if (deflate != "off")
        {
            o.DangerousDeflateOptions = new WebSocketDeflateOptions { ServerContextTakeover = deflate == "takeover", ClientContextTakeover = deflate == "takeover" };
        }
    };

    [Theory]
    [InlineData("off")]
    [InlineData("no-takeover")]
    [InlineData("takeover")]
    public async Task ClientWebSocket_receives_a_fragmented_message_frame_by_frame(string deflate)
    {
        await using TestServer server = await TestServer.StartAsync(s => s.MapFallback(async (connection, ct) =>
        {
            for (int round = 0; round < 2; round++)
            {
                await using WebSocketMessageWriter writer = await connection.BeginMessageAsync(WebSocketMessageKind.Text, ct);
                int start = 0;
                foreach (int end in PartEnds[..^1])
                {
                    await writer.WriteAsync(Text.AsMemory(start, end - start), ct);
                    start = end;
                }

                await writer.CompleteAsync(Text.AsMemory(start), ct);
            }

            await foreach (WebSocketMessage unused in connection.ReadMessagesAsync(ct))
            {
            }
        }), Options(deflate));
        using ClientWebSocket client = await server.ConnectClientAsync(configure: ClientOptions(deflate));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        for (int round = 0; round < 2; round++)
        {
            var received = new MemoryStream();
            var endFlags = new List<bool>();
            byte[] buffer = new byte[Text.Length];
            WebSocketReceiveResult result;
            do
            {
                result = await client.ReceiveAsync(buffer, timeout.Token);
                Assert.Equal(WebSocketMessageType.Text, result.MessageType);
                received.Write(buffer, 0, result.Count);
                endFlags.Add(result.EndOfMessage);
            }
            while (!result.EndOfMessage);

            Assert.Equal(Text, received.ToArray());
            // One receive per frame at least: the message arrived in parts, not whole.
            Assert.True(endFlags.Count >= PartEnds.Length, string.Join(",", endFlags));
            Assert.Equal(endFlags.Count - 1, endFlags.Count(end => !end));
        }

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
    }

    [Theory]
    [InlineData("off")]
    [InlineData("no-takeover")]
    [InlineData("takeover")]
    public async Task Fragments_from_ClientWebSocket_are_read_by_tern_as_a_stream(string deflate)
    {
        var chunks = new List<int>();
        await using TestServer server = await TestServer.StartAsync(s => s.MapFallback(async (connection, ct) =>
        {
            while (await connection.ReadMessageStreamAsync(ct) is { } reader)
            {
                await using (reader)
                {
                    var whole = new MemoryStream();
                    byte[] buffer = new byte[64 * 1024];
                    int read;
                    while ((read = await reader.ReadAsync(buffer, ct)) > 0)
                    {
                        chunks.Add(read);
                        whole.Write(buffer, 0, read);
                    }

                    await connection.SendAsync(new WebSocketMessage(reader.Kind, whole.ToArray()), ct);
                }
            }
        }), Options(deflate));
        using ClientWebSocket client = await server.ConnectClientAsync(configure: ClientOptions(deflate));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int start = 0;
        foreach (int end in PartEnds)
        {
            await client.SendAsync(Text.AsMemory(start, end - start), WebSocketMessageType.Text, end == Text.Length, timeout.Token);
            start = end;
        }

        (WebSocketMessageType type, byte[] echo) = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal(Text, echo);
        Assert.True(chunks.Count >= PartEnds.Length - 1, $"read in {chunks.Count} chunks");
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
    }
}
