using System.Buffers;
using System.Diagnostics;
using System.Text;
using Tern.Protocol;
using Xunit.Abstractions;
using static Tern.Tests.Protocol.FrameBuilder;

namespace Tern.Tests.Compression;

/// <summary>Tern's zlib codec and the decoder's permessage-deflate rules (RFC 7692), checked with bytes and against DeflateStream.</summary>
public sealed class CodecTests(ITestOutputHelper output)
{
    private static readonly byte[] Json = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 200).Select(i => $"{{\"id\":{i},\"user\":\"alice\",\"text\":\"hello there\"}},")));

    [Theory]
    [InlineData(9, false)]
    [InlineData(12, false)]
    [InlineData(15, false)]
    [InlineData(15, true)]
    public void What_Tern_compresses_DeflateStream_reads(int windowBits, bool keepContext)
    {
        using var deflater = new Deflater(6, windowBits);
        for (int i = 0; i < 3; i++)
        {
            byte[] compressed = deflater.Compress(Json, keepContext, out int length);
            Assert.True(length < Json.Length / 4);
            Assert.False(compressed.AsSpan(0, length).EndsWith((ReadOnlySpan<byte>)[0x00, 0x00, 0xFF, 0xFF]));
            if (!keepContext)
            {
                // No context takeover: each message decodes on its own.
                Assert.Equal(Json, Deflate.Decompress(compressed.AsSpan(0, length)));
            }

            ArrayPool<byte>.Shared.Return(compressed);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void An_empty_message_compresses_to_one_empty_stored_block(bool keepContext)
    {
        using var deflater = new Deflater(6, 15);
        foreach (byte[] message in new[] { Array.Empty<byte>(), Json, Array.Empty<byte>(), Array.Empty<byte>() })
        {
            byte[] compressed = deflater.Compress(message, keepContext, out int length);
            if (message.Length == 0)
            {
                Assert.Equal([0x00], compressed[..length]);
            }

            ArrayPool<byte>.Shared.Return(compressed);
        }
    }

    [Fact]
    public void Zlib_refuses_an_8_bit_raw_window_which_is_why_such_connections_send_uncompressed()
    {
        Assert.Throws<InvalidOperationException>(() => new Deflater(6, 8));
    }

    [Fact]
    public void Decodes_the_rfc_7692_examples()
    {
        // §7.2.3.1 "Hello" in one frame, §7.2.3.2 the same message twice with context takeover (the second refers back).
        using var decoder = new WebSocketDecoder(expectMaskedFrames: false, 1 << 20, perMessageDeflate: true, peerContextTakeover: true);
        byte[] wire = [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0xC1, 0x05, 0xF2, 0x00, 0x11, 0x00, 0x00];
        var input = new ReadOnlySequence<byte>(wire);
        Assert.Equal("Hello", Encoding.UTF8.GetString(decoder.Read(ref input).Payload.Span));
        Assert.Equal("Hello", Encoding.UTF8.GetString(decoder.Read(ref input).Payload.Span));
        // §7.2.3.1 fragmented: RSV1 only on the first frame.
        byte[] fragmented = [0x41, 0x03, 0xF2, 0x48, 0xCD, 0x80, 0x04, 0xC9, 0xC9, 0x07, 0x00];
        using var fresh = new WebSocketDecoder(expectMaskedFrames: false, 1 << 20, perMessageDeflate: true);
        input = new ReadOnlySequence<byte>(fragmented);
        Assert.Equal("Hello", Encoding.UTF8.GetString(fresh.Read(ref input).Payload.Span));
        // §7.2.3.3 a stored (uncompressed) block, and §7.2.3.4 a block with BFINAL set.
        byte[] stored = [0xC1, 0x0B, 0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00];
        byte[] final = [0xC1, 0x08, 0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00];
        foreach (byte[] example in new[] { stored, final, stored })
        {
            input = new ReadOnlySequence<byte>(example);
            Assert.Equal("Hello", Encoding.UTF8.GetString(fresh.Read(ref input).Payload.Span));
        }
    }

    [Fact]
    public void Masked_compressed_fragments_split_at_every_byte_decode()
    {
        byte[] compressed = Deflate.Compress(Json);
        int half = compressed.Length / 2;
        byte[] wire = Concat(Frame(Opcode.Text, compressed.AsSpan(0, half), fin: false, rsv: 0b100), Frame(Opcode.Continuation, compressed.AsSpan(half)));
        for (int split = 1; split < wire.Length; split += 7)
        {
            using var decoder = new WebSocketDecoder(expectMaskedFrames: true, 1 << 20, perMessageDeflate: true);
            var first = new ReadOnlySequence<byte>(wire, 0, split);
            Assert.Equal(ProtocolEventType.NeedMoreData, decoder.Read(ref first).Type);
            int used = split - (int)first.Length;
            var rest = new ReadOnlySequence<byte>(wire, used, wire.Length - used);
            ProtocolEvent message = decoder.Read(ref rest);
            Assert.Equal(ProtocolEventType.Message, message.Type);
            Assert.Equal(Json, message.Payload.ToArray());
        }
    }

    public static TheoryData<string, byte[], bool, WebSocketCloseCode> Refusals => new()
    {
        { "RSV1 without negotiation", Frame(Opcode.Text, Deflate.Compress("hi"u8), rsv: 0b100), false, WebSocketCloseCode.ProtocolError },
        { "RSV1 on a ping", Frame(Opcode.Ping, [], rsv: 0b100), true, WebSocketCloseCode.ProtocolError },
        { "RSV1 on a close", Frame(Opcode.Close, [0x03, 0xE8], rsv: 0b100), true, WebSocketCloseCode.ProtocolError },
        { "RSV1 on a continuation", Concat(Frame(Opcode.Text, Deflate.Compress("hi"u8), fin: false, rsv: 0b100), Frame(Opcode.Continuation, [0x00], rsv: 0b100)), true, WebSocketCloseCode.ProtocolError },
        { "RSV2 with deflate", Frame(Opcode.Text, "hi"u8, rsv: 0b010), true, WebSocketCloseCode.ProtocolError },
        { "invalid deflate data", Frame(Opcode.Binary, [0xFF, 0xFF, 0xFF, 0xFF], rsv: 0b100), true, WebSocketCloseCode.InvalidPayloadData },
        { "invalid UTF-8 once inflated", Frame(Opcode.Text, Deflate.Compress([0x61, 0xC0, 0xAF]), rsv: 0b100), true, WebSocketCloseCode.InvalidPayloadData },
        { "inflated text ending mid-character", Frame(Opcode.Text, Deflate.Compress([0x61, 0xE2, 0x82]), rsv: 0b100), true, WebSocketCloseCode.InvalidPayloadData },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Breaking_the_rules_fails_the_connection(string why, byte[] wire, bool negotiated, WebSocketCloseCode expected)
    {
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, 1 << 20, perMessageDeflate: negotiated);
        var input = new ReadOnlySequence<byte>(wire);
        ProtocolEvent e = decoder.Read(ref input);
        Assert.True(e.Type == ProtocolEventType.ProtocolError, why);
        Assert.Equal(expected, e.CloseCode);
    }

    [Fact]
    public void Uncompressed_messages_still_pass_when_deflate_is_negotiated()
    {
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, 1 << 20, perMessageDeflate: true);
        var input = new ReadOnlySequence<byte>(Concat(Text("plain"), Frame(Opcode.Text, Deflate.Compress("packed"u8), rsv: 0b100), Text("plain again")));
        Assert.Equal("plain", Encoding.UTF8.GetString(decoder.Read(ref input).Payload.Span));
        Assert.Equal("packed", Encoding.UTF8.GetString(decoder.Read(ref input).Payload.Span));
        Assert.Equal("plain again", Encoding.UTF8.GetString(decoder.Read(ref input).Payload.Span));
    }

    [Fact]
    public void The_limit_applies_to_the_inflated_size()
    {
        byte[] message = new byte[10_001];
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: 10_000, perMessageDeflate: true);
        var input = new ReadOnlySequence<byte>(Frame(Opcode.Binary, Deflate.Compress(message), rsv: 0b100));
        ProtocolEvent e = decoder.Read(ref input);
        Assert.Equal(WebSocketCloseCode.MessageTooBig, e.CloseCode);

        using var fits = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: 10_000, perMessageDeflate: true);
        input = new ReadOnlySequence<byte>(Frame(Opcode.Binary, Deflate.Compress(message.AsSpan(1)), rsv: 0b100));
        Assert.Equal(10_000, fits.Read(ref input).Payload.Length);
    }

    [Fact]
    public void Inflated_messages_are_reserved_from_the_shared_budget()
    {
        // 64 KiB of budget; a message inflating to 200 KB fits the size limit but not the budget: 1013.
        var budget = new BufferBudget(64 * 1024);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, 1 << 20, budget, perMessageDeflate: true);
        var input = new ReadOnlySequence<byte>(Frame(Opcode.Binary, Deflate.Compress(new byte[200_000]), rsv: 0b100));
        Assert.Equal(WebSocketCloseCode.TryAgainLater, decoder.Read(ref input).CloseCode);
        Assert.Equal(0, budget.InUse);

        using var fits = new WebSocketDecoder(expectMaskedFrames: true, 1 << 20, budget, perMessageDeflate: true);
        input = new ReadOnlySequence<byte>(Frame(Opcode.Text, Deflate.Compress(Json), rsv: 0b100));
        Assert.Equal(Json, fits.Read(ref input).Payload.ToArray());
        Assert.InRange(budget.InUse, Json.Length, 64 * 1024);
        fits.ReleaseIdleBuffers();
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public void The_pools_keep_at_most_their_capacity()
    {
        // More in use at once than the pool keeps: the surplus is freed when given back, not kept.
        Inflater[] inflaters = Enumerable.Range(0, ZLibPool.Capacity * 3).Select(_ => ZLibPool.RentInflater()).ToArray();
        Deflater[] deflaters = Enumerable.Range(0, ZLibPool.Capacity * 3).Select(_ => ZLibPool.RentDeflater(1, 9)).ToArray();
        foreach (Inflater inflater in inflaters)
        {
            ZLibPool.Return(inflater);
        }

        foreach (Deflater deflater in deflaters)
        {
            ZLibPool.Return(deflater);
        }

        // Other tests may borrow from the same pools meanwhile, so the bound is checked, not an exact count.
        Assert.InRange(ZLibPool.PooledInflaters, 0, ZLibPool.Capacity);
        Assert.InRange(ZLibPool.PooledDeflaters(1, 9), 0, ZLibPool.Capacity);
        int freed = inflaters.Count(inflater => inflater.IsDisposed);
        Assert.True(freed >= ZLibPool.Capacity, $"{freed} of {inflaters.Length} inflaters freed");
    }

    [Fact]
    public void A_decompression_bomb_fails_with_1009_after_about_the_limit()
    {
        // 256 MiB of zeros deflate to ~255 KiB; the limit is 1 MiB.
        const long limit = 1 << 20;
        const int bombSize = 256 << 20;
        byte[] compressed = Deflate.Compress(new byte[bombSize]);
        byte[] wire = Frame(Opcode.Binary, compressed, rsv: 0b100);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, limit, perMessageDeflate: true);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var input = new ReadOnlySequence<byte>(wire);
        ProtocolEvent e = decoder.Read(ref input);
        clock.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        long consumed = wire.Length - input.Length;
        output.WriteLine($"bomb: {compressed.Length} B compressed ({bombSize} B inflated), limit {limit} B, wire bytes read before 1009: {consumed}, allocated {allocated} B, {clock.Elapsed.TotalMilliseconds:F1} ms");
        Assert.Equal(WebSocketCloseCode.MessageTooBig, e.CloseCode);
        // It stopped early: a little over the limit's worth of input at deflate's best ratio (~1:1030), and memory
        // of about the limit (the buffer doubles up to limit + 1).
        Assert.True(consumed < 8 * 1024, $"read {consumed} bytes of the bomb");
        Assert.True(allocated < 4 * limit, $"allocated {allocated} bytes");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Only_context_takeover_keeps_an_inflater_between_messages(bool peerContextTakeover)
    {
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, 1 << 20, perMessageDeflate: true, peerContextTakeover: peerContextTakeover);
        var input = new ReadOnlySequence<byte>(Frame(Opcode.Text, Deflate.Compress(Json), rsv: 0b100));
        Assert.Equal(Json, decoder.Read(ref input).Payload.ToArray());
        Assert.Equal(peerContextTakeover, decoder.HoldsInflater);
        Assert.InRange(ZLibPool.PooledInflaters, 0, ZLibPool.Capacity);
    }
}
