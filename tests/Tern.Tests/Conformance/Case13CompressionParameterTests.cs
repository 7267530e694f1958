using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using Xunit.Abstractions;

namespace Tern.Tests.Conformance;

/// <summary>
/// Autobahn category 13, "WebSocket Compression (different parameters)": the offers of Autobahn's 13.1–13.7 (context
/// takeover and server window sizes of 8 and 15, and a list to fall back through), each with the 18 size and
/// auto-fragmentation settings of category 12 and a mix of its five kinds of data. Then Tern-only cases: the other
/// parameter combinations and offers that must be declined or skipped (13.n-tern), and compressed traffic that must
/// fail the connection (13.f-tern). The server allows context takeover both ways and compresses every message, so the
/// client's offer decides.
/// </summary>
public class Case13CompressionParameterTests(DeflateTakeoverServer server, ITestOutputHelper output)
    : ConformanceCases<DeflateTakeoverServer>(server)
{
    private const int MiB = 1024 * 1024;

    /// <summary>Autobahn's client offers of 13.1–13.7, as its <c>PerMessageDeflateOffer</c> spells them.</summary>
    private static readonly string[] AutobahnOffers =
    [
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_max_window_bits; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; server_max_window_bits=8",
        "permessage-deflate; client_max_window_bits; server_max_window_bits=15",
        "permessage-deflate; client_max_window_bits; server_no_context_takeover; server_max_window_bits=8",
        "permessage-deflate; client_max_window_bits; server_no_context_takeover; server_max_window_bits=15",
        "permessage-deflate; client_max_window_bits; server_no_context_takeover; server_max_window_bits=8, " +
            "permessage-deflate; client_max_window_bits; server_no_context_takeover, permessage-deflate; client_max_window_bits",
    ];

    /// <summary>13.1.1–13.7.18: id, offer, message size, auto-fragment size.</summary>
    public static TheoryData<string, string, int, int> Parameters()
    {
        var data = new TheoryData<string, string, int, int>();
        for (int j = 0; j < AutobahnOffers.Length; j++)
        {
            for (int i = 0; i < CompressionEcho.Sizes.Length; i++)
            {
                (int size, int fragmentSize) = CompressionEcho.Sizes[i];
                data.Add($"13.{j + 1}.{i + 1}", AutobahnOffers[j], size, fragmentSize);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Parameters))]
    public async Task Case_13_x_x(string caseId, string offer, int size, int fragmentSize)
    {
        _ = caseId;
        await using RawClient client = await RawClient.OpenWithExtensionsAsync(Port, Fixture.UseTls, offer);
        AssertContextTakeoverAsConfigured(client.Deflate!.Agreement);
        await CompressionEcho.RunAsync(client, MixedKinds, size, fragmentSize, CompressionEcho.MessageCount(size), Fixture.CompressionThreshold);
        await client.CloseNormallyAsync();
    }

    /// <summary>
    /// Offers beyond Autobahn's, one per Sec-WebSocket-Extensions line (" | " separates lines): each parameter alone and
    /// combined, a quoted value, and lists whose first offers are invalid (an unknown parameter or extension, a window
    /// outside 8–15, a value where none belongs, a repeated parameter) and must be skipped, or declined when nothing
    /// valid follows (RFC 7692 §5, §7). A declined offer leaves the connection open, without compression.
    /// </summary>
    [Theory]
    [InlineData("13.n-tern.1", "permessage-deflate")]
    [InlineData("13.n-tern.2", "permessage-deflate; client_no_context_takeover")]
    [InlineData("13.n-tern.3", "permessage-deflate; server_no_context_takeover")]
    [InlineData("13.n-tern.4", "permessage-deflate; client_max_window_bits=8")]
    [InlineData("13.n-tern.5", "permessage-deflate; client_max_window_bits=15")]
    [InlineData("13.n-tern.6", "permessage-deflate; server_max_window_bits=8")]
    [InlineData("13.n-tern.7", "permessage-deflate; server_max_window_bits=15")]
    [InlineData("13.n-tern.8", "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9")]
    [InlineData("13.n-tern.9", "permessage-deflate; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=8; server_max_window_bits=8")]
    [InlineData("13.n-tern.10", "permessage-deflate; client_no_context_takeover; server_max_window_bits=15; client_max_window_bits")]
    [InlineData("13.n-tern.11", "permessage-deflate; client_max_window_bits=\"10\"")]
    [InlineData("13.n-tern.12", "permessage-deflate; server_max_window_bits=8; client_no_context_takeover, permessage-deflate; client_no_context_takeover, permessage-deflate")]
    [InlineData("13.n-tern.13", "permessage-deflate; server_max_window_bits=7, permessage-deflate; client_no_context_takeover")]
    [InlineData("13.n-tern.14", "permessage-deflate; x-unknown=1, permessage-deflate; server_no_context_takeover")]
    [InlineData("13.n-tern.15", "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits")]
    [InlineData("13.n-tern.16", "permessage-deflate; server_max_window_bits=16 | permessage-deflate; server_max_window_bits=9")]
    [InlineData("13.n-tern.17", "permessage-deflate; server_max_window_bits=16")]
    [InlineData("13.n-tern.18", "permessage-deflate; client_max_window_bits=7")]
    [InlineData("13.n-tern.19", "permessage-deflate; server_no_context_takeover; server_no_context_takeover")]
    [InlineData("13.n-tern.20", "permessage-deflate; client_no_context_takeover=true")]
    [InlineData("13.n-tern.21", "permessage-deflate; server_max_window_bits")]
    [InlineData("13.n-tern.22", "permessage-deflate; server_max_window_bits=010")]
    [InlineData("13.n-tern.23", "x-webkit-deflate-frame")]
    [InlineData("13.n-tern.29", "permessage-deflate; server_max_window_bits=9")]
    [InlineData("13.n-tern.31", "permessage-deflate ;client_no_context_takeover ;  server_max_window_bits = 10 ,x-other")]
    public async Task Case_13_n_tern_negotiation(string caseId, string offers)
    {
        _ = caseId;
        await using RawClient client = await RawClient.OpenWithExtensionsAsync(Port, Fixture.UseTls, offers.Split(" | "));
        if (client.Deflate is null)
        {
            // Declined: plain messages work, and RSV1 is as illegal as without any offer.
            await client.SendAsync(WireFrame.Text("Hello"));
            await client.ExpectTextAsync("Hello");
            await client.SendAsync(WireFrame.Encode(Op.Text, "Hello"u8, rsv: RawClient.Rsv1));
            await client.ExpectFailureAsync(1002);
            return;
        }

        AssertContextTakeoverAsConfigured(client.Deflate.Agreement);
        int? threshold = Fixture.CompressionThreshold;

        // Many similar messages, where context takeover (when agreed) refers back to the ones before.
        await CompressionEcho.RunAsync(client, _ => PayloadKind.Json, 2000, 0, 20, threshold);

        // Small and large messages in turn: the small ones are under the server's threshold and come back uncompressed,
        // which must leave its compression context as the client's inflater sees it.
        for (int i = 0; i < 12; i++)
        {
            byte[] message = CompressionPayloads.Messages(PayloadKind.Json, i % 2 == 0 ? 24 : 1200, 1, first: i).Single();
            await client.SendMessageAsync(Op.Text, message);
            ServerEvent echo = await client.ExpectMessageAsync(Op.Text, message);
            if (threshold is { } minimum)
            {
                CompressionEcho.AssertCompressedAsExpected(echo, PayloadKind.Json, client.Deflate.Agreement, minimum, $"alternating message {i + 1}");
            }
        }

        // A message sent uncompressed (RSV1 clear, always allowed), between compressed ones.
        byte[] plain = CompressionPayloads.Messages(PayloadKind.Html, 3000, 1).Single();
        await client.SendMessageAsync(Op.Text, plain, compress: false);
        await client.ExpectMessageAsync(Op.Text, plain);

        // Every kind, larger, fragmented, in one write per frame.
        await CompressionEcho.RunAsync(client, MixedKinds, 20000, 4096, 5, threshold);

        // The empty message: one 0x00 byte compressed (RFC 7692 §7.2.3.6).
        await client.SendAsync(WireFrame.Encode(Op.Text, [0x00], rsv: RawClient.Rsv1));
        await client.ExpectMessageAsync(Op.Text, []);

        // And the context still works after all that.
        await CompressionEcho.RunAsync(client, MixedKinds, 1500, 0, 5, threshold);
        await client.CloseNormallyAsync();
    }

    /// <summary>A compressed message in two fragments with a ping between them, in 1-byte TCP chops.</summary>
    [Theory]
    [InlineData("13.n-tern.24")]
    public async Task Case_13_n_tern_ping_between_compressed_fragments_in_one_byte_chops(string caseId)
    {
        _ = caseId;
        await using RawClient client = await RawClient.OpenWithExtensionsAsync(Port, Fixture.UseTls, CompressionEcho.DefaultOffer);
        byte[] message = CompressionPayloads.Messages(PayloadKind.Prose, 400, 1).Single();
        byte[] compressed = client.Deflate!.Compress(message);
        int half = compressed.Length / 2;
        await Chops.OctetWise.SendAsync(client,
            WireFrame.Encode(Op.Text, compressed.AsSpan(0, half), fin: false, rsv: RawClient.Rsv1),
            WireFrame.Ping("between"),
            WireFrame.Encode(Op.Continuation, compressed.AsSpan(half)));
        await client.ExpectPongAsync("between");
        await client.ExpectMessageAsync(Op.Text, message);
        await client.CloseNormallyAsync();
    }

    /// <summary>
    /// Compressed data as other senders may legally shape it, each message sent three times on a connection where the
    /// client may keep its context (so the server's inflater must carry on after each): ended by a final block
    /// (BFINAL=1, RFC 7692 §7.2.3.4), flushed in the middle as well as at the end (two blocks, §7.2.3.5), and split so that
    /// the last frame is an empty continuation, or the first frame (which carries RSV1) is empty.
    /// </summary>
    [Theory]
    [InlineData("13.n-tern.25", "final block")]
    [InlineData("13.n-tern.26", "flushed mid-message")]
    [InlineData("13.n-tern.27", "empty last frame")]
    [InlineData("13.n-tern.30", "empty first frame")]
    public async Task Case_13_n_tern_other_shapes_of_compressed_data(string caseId, string shape)
    {
        _ = caseId;
        await using RawClient client = await RawClient.OpenWithExtensionsAsync(Port, Fixture.UseTls, CompressionEcho.DefaultOffer);
        for (int i = 0; i < 3; i++)
        {
            byte[] message = CompressionPayloads.Messages(PayloadKind.Json, 3000, 1, first: i).Single();
            byte[] wire = shape switch
            {
                "final block" => WireFrame.Encode(Op.Text, DeflateWhole(message, midFlush: false), rsv: RawClient.Rsv1),
                "flushed mid-message" => WireFrame.Encode(Op.Text, DeflateWhole(message, midFlush: true), rsv: RawClient.Rsv1),
                "empty last frame" => WireFrame.Concat(
                    WireFrame.Encode(Op.Text, client.Deflate!.Compress(message), fin: false, rsv: RawClient.Rsv1),
                    WireFrame.Encode(Op.Continuation, [])),
                _ => WireFrame.Concat(
                    WireFrame.Encode(Op.Text, [], fin: false, rsv: RawClient.Rsv1),
                    WireFrame.Encode(Op.Continuation, client.Deflate!.Compress(message))),
            };
            await client.SendAsync(wire);
            await client.ExpectMessageAsync(Op.Text, message);
        }

        await client.CloseNormallyAsync();
    }

    /// <summary>
    /// The size limit (16 MiB) applies to the inflated message, exactly: a compressed message that inflates to the limit
    /// is echoed (13.n-tern.28), one that inflates to a byte more fails with 1009 (13.f-tern.17).
    /// </summary>
    [Theory]
    [InlineData("13.n-tern.28", 0)]
    [InlineData("13.f-tern.17", 1)]
    public async Task Case_13_tern_inflated_size_at_the_limit(string caseId, int over)
    {
        _ = caseId;
        byte[] message = new byte[ConformanceServer.MaxMessageSize + over];
        message.AsSpan().Fill((byte)'*');
        await using RawClient client = await RawClient.OpenWithExtensionsAsync(Port, Fixture.UseTls, CompressionEcho.DefaultOffer);
        await client.SendMessageAsync(Op.Text, message);
        if (over == 0)
        {
            await client.ExpectMessageAsync(Op.Text, message, TimeSpan.FromSeconds(30));
            await client.CloseNormallyAsync();
        }
        else
        {
            await client.ExpectFailureAsync(1009);
        }
    }

    /// <summary>
    /// Broadcast (/broadcast sends every message to every /broadcast connection): Tern compresses a message once per
    /// group of connections with the same outgoing settings (and one by one where the server keeps a context), so
    /// receivers that agreed on different parameters (the default, 10-bit server windows without context takeover twice,
    /// an 8-bit one, server_no_context_takeover, no extension at all) must each get every message intact and within
    /// their own agreement, whoever sends it.
    /// </summary>
    [Theory]
    [InlineData("13.b-tern.1")]
    public async Task Case_13_b_tern_broadcast_to_receivers_with_different_parameters(string caseId)
    {
        _ = caseId;
        string?[] offers =
        [
            CompressionEcho.DefaultOffer,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=8",
            null,
            "permessage-deflate; server_no_context_takeover",
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=10",
        ];
        var clients = new List<RawClient>();
        try
        {
            foreach (string? offer in offers)
            {
                RawClient client = offer is null
                    ? await RawClient.OpenAsync(Port, Fixture.UseTls, "/broadcast")
                    : await RawClient.OpenWithExtensionsAsync(Port, Fixture.UseTls, "/broadcast", [offer]);
                clients.Add(client);

                // Its own message coming back shows it has joined; everyone before it gets the message too.
                byte[] joined = Encoding.UTF8.GetBytes($"joined {clients.Count}");
                await SendAsync(client, Op.Text, joined);
                foreach (RawClient member in clients)
                {
                    await member.ExpectMessageAsync(Op.Text, joined);
                }
            }

            int? threshold = Fixture.CompressionThreshold;
            for (int i = 0; i < 15; i++)
            {
                PayloadKind kind = MixedKinds(i);
                byte[] message = CompressionPayloads.Messages(kind, i < 10 ? 2000 : 20000, 1, first: i).Single();
                int opcode = CompressionPayloads.Opcode(kind);
                await SendAsync(clients[i % clients.Count], opcode, message, fragmentSize: i < 10 ? 0 : 4096);
                foreach (RawClient receiver in clients)
                {
                    ServerEvent received = await receiver.ExpectMessageAsync(opcode, message);
                    if (threshold is { } minimum && receiver.Deflate is { } deflate)
                    {
                        CompressionEcho.AssertCompressedAsExpected(received, kind, deflate.Agreement, minimum, $"broadcast {i + 1}");
                    }
                }
            }

            foreach (RawClient client in clients)
            {
                await client.CloseNormallyAsync();
            }
        }
        finally
        {
            foreach (RawClient client in clients)
            {
                await client.DisposeAsync();
            }
        }

        static Task SendAsync(RawClient client, int opcode, byte[] message, int fragmentSize = 0) =>
            client.SendMessageAsync(opcode, message, compress: client.Deflate is not null, fragmentSize: fragmentSize);
    }

    /// <summary>RSV1 where RFC 7692 §6.1 forbids it, and RSV2/RSV3, which permessage-deflate does not define: 1002.</summary>
    [Theory]
    [InlineData("13.f-tern.1", "ping")]
    [InlineData("13.f-tern.2", "pong")]
    [InlineData("13.f-tern.3", "close")]
    [InlineData("13.f-tern.4", "continuation of a compressed message")]
    [InlineData("13.f-tern.5", "continuation of an uncompressed message")]
    [InlineData("13.f-tern.6", "RSV2 on a text frame")]
    [InlineData("13.f-tern.7", "RSV3 on a text frame")]
    [InlineData("13.f-tern.8", "RSV1 without an offer")]
    public async Task Case_13_f_tern_reserved_bit_misuse_is_1002(string caseId, string where)
    {
        _ = caseId;
        await using RawClient client = where == "RSV1 without an offer"
            ? await RawClient.OpenAsync(Port, Fixture.UseTls)
            : await RawClient.OpenWithExtensionsAsync(Port, Fixture.UseTls, CompressionEcho.DefaultOffer);
        byte[] hello = "Hello"u8.ToArray();
        byte[] wire = where switch
        {
            "ping" => WireFrame.Encode(Op.Ping, hello, rsv: RawClient.Rsv1),
            "pong" => WireFrame.Encode(Op.Pong, hello, rsv: RawClient.Rsv1),
            "close" => WireFrame.Encode(Op.Close, [0x03, 0xE8], rsv: RawClient.Rsv1),
            "continuation of a compressed message" => WireFrame.Concat(
                WireFrame.Encode(Op.Text, client.Deflate!.Compress(hello), fin: false, rsv: RawClient.Rsv1),
                WireFrame.Encode(Op.Continuation, client.Deflate.Compress(hello), rsv: RawClient.Rsv1)),
            "continuation of an uncompressed message" => WireFrame.Concat(
                WireFrame.Encode(Op.Text, hello, fin: false),
                WireFrame.Encode(Op.Continuation, client.Deflate!.Compress(hello), rsv: RawClient.Rsv1)),
            "RSV2 on a text frame" => WireFrame.Encode(Op.Text, client.Deflate!.Compress(hello), rsv: 2),
            "RSV3 on a text frame" => WireFrame.Encode(Op.Text, client.Deflate!.Compress(hello), rsv: 1),
            _ => WireFrame.Encode(Op.Text, CompressRaw(hello), rsv: RawClient.Rsv1),
        };
        await client.SendAsync(wire);
        await client.ExpectFailureAsync(1002);
    }

    /// <summary>A compressed text message that inflates to invalid UTF-8: 1007, as for an uncompressed one.</summary>
    [Theory]
    [InlineData("13.f-tern.9", false)]
    [InlineData("13.f-tern.10", true)]
    public async Task Case_13_f_tern_compressed_invalid_utf8_is_1007(string caseId, bool fragmented)
    {
        _ = caseId;
        byte[] invalid = [.. "Hello-µ@ßöäüàá-UTF-8!!"u8, 0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64];
        await using RawClient client = await RawClient.OpenWithExtensionsAsync(Port, Fixture.UseTls, CompressionEcho.DefaultOffer);
        await client.SendMessageAsync(Op.Text, invalid, fragmentSize: fragmented ? 3 : 0);
        await client.ExpectFailureAsync(1007);
    }

    /// <summary>
    /// Compressed data that is not valid deflate: RFC 7692 names no close code; the connection must fail with 1002
    /// (a protocol error) or 1007 (data inconsistent with the message type), and the server must not log an error.
    /// </summary>
    [Theory]
    [InlineData("13.f-tern.11", "07")] // a final block of the reserved block type 3 (RFC 1951 §3.2.3)
    [InlineData("13.f-tern.12", "0005001234567890")] // a stored block whose NLEN is not the complement of LEN
    [InlineData("13.f-tern.13", "0202")] // a match at distance 1 before any data (RFC 1951 §3.2.5: too far back)
    [InlineData("13.f-tern.14", "05009204")] // a dynamic block with three code length codes of 1 bit (over-subscribed)
    public async Task Case_13_f_tern_invalid_deflate_data_fails(string caseId, string hex)
    {
        _ = caseId;
        await using RawClient client = await RawClient.OpenWithExtensionsAsync(Port, Fixture.UseTls, CompressionEcho.DefaultOffer);
        await client.SendAsync(WireFrame.Encode(Op.Binary, Convert.FromHexString(hex), rsv: RawClient.Rsv1));
        int code = await client.ExpectFailureWithOneOfAsync(1002, 1007);
        output.WriteLine($"Closed with {code}.");
    }

    /// <summary>
    /// Decompression bombs: 1 GiB of zeros in about 1 MiB of deflate data, in one frame and in 64 KiB fragments. The
    /// server's limit (16 MiB) applies to the inflated size, while inflating: 1009, quickly, without inflating it all.
    /// </summary>
    [Theory]
    [InlineData("13.f-tern.15", 0)]
    [InlineData("13.f-tern.16", 64 * 1024)]
    public async Task Case_13_f_tern_decompression_bomb_is_1009(string caseId, int fragmentSize)
    {
        _ = caseId;
        byte[] bomb = Bomb(inflatedMiB: 1024);
        await using RawClient client = await RawClient.OpenWithExtensionsAsync(Port, Fixture.UseTls, CompressionEcho.DefaultOffer);
        byte[] wire = fragmentSize > 0
            ? WireFrame.Fragmented(Op.Binary, bomb, fragmentSize, RawClient.Rsv1)
            : WireFrame.Encode(Op.Binary, bomb, rsv: RawClient.Rsv1);
        var watch = Stopwatch.StartNew();

        // Sent while the failure is awaited: the server may stop reading once it has failed the connection.
        Task sending = client.SendAsync(wire);
        await client.ExpectFailureAsync(1009);
        watch.Stop();
        await sending;
        output.WriteLine($"{bomb.Length} bytes inflating to 1 GiB: 1009 after {watch.ElapsedMilliseconds} ms.");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"The 1009 took {watch.ElapsedMilliseconds} ms: the server inflated far beyond its limit.");
    }

    private static PayloadKind MixedKinds(int i) => (PayloadKind)(i % 5 + 1);

    /// <summary>
    /// On the in-process server, which allows context takeover both ways, it is kept unless the client asked otherwise
    /// (or, for the client's side, said it will not use it).
    /// </summary>
    private void AssertContextTakeoverAsConfigured(DeflateAgreement agreement)
    {
        if (!Fixture.TakesOverContext)
        {
            return;
        }

        Assert.True(agreement.Offer.ServerNoContextTakeover || !agreement.ServerNoContextTakeover,
            $"The server allows context takeover, and the offer did not ask for server_no_context_takeover, yet it answered \"{agreement.Response}\".");
        Assert.True(agreement.Offer.ClientNoContextTakeover || !agreement.ClientNoContextTakeover,
            $"The server allows the client context takeover, and the offer did not give it up, yet it answered \"{agreement.Response}\".");
    }

    /// <summary>
    /// A message deflated on its own: ended by a final block, or by a sync flush after each half, the last one's
    /// 00 00 FF FF removed as RFC 7692 §7.2.1 requires.
    /// </summary>
    private static byte[] DeflateWhole(byte[] message, bool midFlush)
    {
        var output = new MemoryStream();
        using (var deflate = new DeflateStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            if (midFlush)
            {
                deflate.Write(message.AsSpan(0, message.Length / 2));
                deflate.Flush();
                deflate.Write(message.AsSpan(message.Length / 2));
                deflate.Flush();
                return output.ToArray()[..^4];
            }

            deflate.Write(message);
        }

        return output.ToArray();
    }

    /// <summary>A message compressed without any negotiation, for the RSV1-without-an-offer case.</summary>
    private static byte[] CompressRaw(byte[] message)
    {
        using var session = new DeflateSession(new DeflateAgreement(true, true, 15, 15) { Offer = new DeflateParameters(true, true, null, null) });
        return session.Compress(message);
    }

    /// <summary>
    /// A compressed message of <paramref name="inflatedMiB"/> MiB of zeros without deflating them all: after a sync
    /// flush, each further MiB of zeros compresses to the same bytes (matches against the zeros in the window, then an
    /// empty stored block that realigns to a byte), so one compressed MiB is repeated.
    /// </summary>
    private static byte[] Bomb(int inflatedMiB)
    {
        var output = new MemoryStream();
        using var deflate = new DeflateStream(output, CompressionLevel.SmallestSize, leaveOpen: true);
        var zeros = new byte[MiB];
        byte[] NextMiB()
        {
            output.SetLength(0);
            deflate.Write(zeros);
            deflate.Flush();
            return output.ToArray();
        }

        byte[] first = NextMiB();
        byte[] repeated = NextMiB();
        Assert.Equal(repeated, NextMiB());
        var bomb = new MemoryStream();
        bomb.Write(first);
        for (int i = 1; i < inflatedMiB; i++)
        {
            bomb.Write(repeated);
        }

        // Without the last sync flush marker, which the receiver adds back (RFC 7692 §7.2.2).
        return bomb.ToArray()[..^4];
    }
}
