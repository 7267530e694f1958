using System.Buffers;
using System.Text;
using Tern.Protocol;
using Tern.Tests.Compression;
using static Tern.Tests.Protocol.FrameBuilder;

namespace Tern.Tests.Protocol;

/// <summary>
/// The decoder's streaming mode (<see cref="WebSocketDecoder.StreamMessages"/>): payload handed out in chunks as it
/// arrives, with every rule the whole-message mode enforces, and memory bounded by one chunk whatever the message size.
/// </summary>
public sealed class DecoderStreamingTests
{
    private const int MiB = 1024 * 1024;

    private sealed record Seen(ProtocolEventType Type, WebSocketMessageKind Kind, byte[] Payload, bool End, WebSocketCloseCode Code);

    /// <summary>Feeds the bytes split once at <paramref name="split"/> (and whole when it is 0), as a pipe would.</summary>
    private static List<Seen> Decode(byte[] wire, int split, long maxMessage = MiB, bool deflate = false, BufferBudget? budget = null)
    {
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessage, budget, perMessageDeflate: deflate) { StreamMessages = true };
        var events = new List<Seen>();
        byte[] pending = [];
        foreach (byte[] part in split == 0 ? [wire] : new[] { wire[..split], wire[split..] })
        {
            var input = new ReadOnlySequence<byte>([.. pending, .. part]);
            while (!decoder.IsFinished)
            {
                ProtocolEvent e = decoder.Read(ref input);
                if (e.Type == ProtocolEventType.NeedMoreData)
                {
                    break;
                }

                Assert.True(e.Payload.Length <= WebSocketDecoder.StreamChunkSize);
                events.Add(new Seen(e.Type, e.MessageKind, e.Payload.ToArray(), e.EndOfMessage, e.CloseCode));
            }

            pending = input.ToArray();
        }

        return events;
    }

    /// <summary>The streamed messages put back together, with the control events between them in order.</summary>
    private static List<string> Summarize(List<Seen> events)
    {
        var summary = new List<string>();
        var message = new List<byte>();
        foreach (Seen e in events)
        {
            if (e.Type != ProtocolEventType.MessageData)
            {
                summary.Add($"{e.Type} {Encoding.UTF8.GetString(e.Payload)} {(int)e.Code}");
                continue;
            }

            Assert.True(e.End || e.Payload.Length > 0, "only the last chunk of a message may be empty");
            message.AddRange(e.Payload);
            if (e.End)
            {
                summary.Add($"{e.Kind} {Convert.ToHexString(message.ToArray())}");
                message.Clear();
            }
        }

        return summary;
    }

    private static byte[] Wire(bool deflate)
    {
        byte[] text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("héllo wörld €𝄞 ", 40)));
        if (!deflate)
        {
            // A multi-byte character split across fragments, a ping between them, an empty message, a binary one.
            return Concat(
                Frame(Opcode.Text, text[..3], fin: false),
                Frame(Opcode.Ping, "p"u8),
                Frame(Opcode.Continuation, text[3..200], fin: false),
                Frame(Opcode.Continuation, [], fin: false),
                Frame(Opcode.Continuation, text[200..]),
                Frame(Opcode.Binary, []),
                Frame(Opcode.Binary, [1, 2, 3]),
                Close(1000));
        }

        byte[] compressed = Deflate.Compress(text);
        return Concat(
            Frame(Opcode.Text, compressed[..5], fin: false, rsv: 0b100),
            Frame(Opcode.Ping, "p"u8),
            Frame(Opcode.Continuation, compressed[5..], fin: false),
            Frame(Opcode.Continuation, []),
            Frame(Opcode.Binary, Deflate.Compress([1, 2, 3]), rsv: 0b100),
            Close(1000));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Split_at_every_byte_boundary_gives_the_same_messages_and_events(bool deflate)
    {
        byte[] wire = Wire(deflate);
        List<string> whole = Summarize(Decode(wire, 0, deflate: deflate));
        Assert.Contains(whole, line => line.StartsWith("Ping", StringComparison.Ordinal));
        Assert.Equal("Close  1000", whole[^1]);
        string text = Convert.ToHexString(Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("héllo wörld €𝄞 ", 40))));
        Assert.Contains($"Text {text}", whole);
        Assert.Contains("Binary 010203", whole);
        for (int split = 1; split < wire.Length; split++)
        {
            Assert.Equal(whole, Summarize(Decode(wire, split, deflate: deflate)));
        }
    }

    [Fact]
    public void Bytes_are_handed_out_before_the_frame_ends()
    {
        byte[] frame = Frame(Opcode.Binary, Enumerable.Range(0, 1000).Select(i => (byte)i).ToArray());
        List<Seen> events = Decode(frame[..600], 0);
        Seen first = Assert.Single(events);
        Assert.False(first.End);
        Assert.Equal(Enumerable.Range(0, 600 - 8).Select(i => (byte)i), first.Payload);
    }

    [Fact]
    public void Invalid_utf8_fails_at_the_first_invalid_byte_before_the_rest_arrives()
    {
        byte[] wire = Concat(Text("valid ", fin: false), Frame(Opcode.Continuation, [.. "ok"u8, 0xC0, .. new byte[5000]]));
        List<Seen> events = Decode(wire[..40], 0);
        Assert.Equal("valid ", Encoding.UTF8.GetString(events[0].Payload));
        Assert.Equal(ProtocolEventType.ProtocolError, events[^1].Type);
        Assert.Equal(WebSocketCloseCode.InvalidPayloadData, events[^1].Code);
    }

    [Fact]
    public void A_text_message_ending_mid_sequence_fails_with_1007()
    {
        List<Seen> events = Decode(Frame(Opcode.Text, [.. "ab"u8, 0xE2, 0x82]), 0);
        Assert.Equal(WebSocketCloseCode.InvalidPayloadData, events[^1].Code);
    }

    [Fact]
    public void The_size_limit_applies_to_the_total_over_fragments()
    {
        byte[] wire = Concat(Frame(Opcode.Binary, new byte[600], fin: false), Frame(Opcode.Continuation, new byte[600]));
        List<Seen> events = Decode(wire, 0, maxMessage: 1000);
        Assert.Equal(600, events.Where(e => e.Type == ProtocolEventType.MessageData).Sum(e => e.Payload.Length));
        Assert.Equal(WebSocketCloseCode.MessageTooBig, events[^1].Code);
    }

    [Fact]
    public void A_decompression_bomb_fails_with_1009_after_at_most_the_limit_of_output()
    {
        byte[] bomb = Deflate.Compress(new byte[64 * MiB]);
        Assert.True(bomb.Length < 100_000);
        List<Seen> events = Decode(Frame(Opcode.Binary, bomb, rsv: 0b100), 0, maxMessage: MiB, deflate: true);
        Assert.Equal(WebSocketCloseCode.MessageTooBig, events[^1].Code);
        Assert.True(events.Sum(e => e.Payload.Length) <= MiB);
    }

    /// <summary>
    /// A 100 MiB message under a 200 MiB limit, fed in 1 MiB reads: the decoder's reservation never passes one chunk,
    /// where the whole-message mode would hold the 100 MiB.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_100_MiB_message_holds_one_chunk_at_a_time(bool deflate)
    {
        const int size = 100 * MiB;
        var budget = new BufferBudget(256L * MiB);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, 200L * MiB, budget, perMessageDeflate: deflate) { StreamMessages = true };
        byte[] payload = deflate ? Deflate.Compress(new byte[size]) : new byte[size];
        byte[] header = new byte[FrameHeader.GetLength(payload.Length, masked: true)];
        // Mask 0: the payload bytes on the wire are the payload itself.
        FrameHeader.Write(header, Opcode.Binary, fin: true, payload.Length, masked: true, maskKey: 0, rsv: deflate ? (byte)0b100 : (byte)0);
        byte[] wire = [.. header, .. payload];
        long received = 0;
        long peak = 0;
        bool ended = false;
        for (int offset = 0; offset < wire.Length; offset += MiB)
        {
            var input = new ReadOnlySequence<byte>(wire.AsMemory(offset, Math.Min(MiB, wire.Length - offset)));
            while (true)
            {
                ProtocolEvent e = decoder.Read(ref input);
                peak = Math.Max(peak, budget.InUse);
                if (e.Type == ProtocolEventType.NeedMoreData)
                {
                    break;
                }

                Assert.Equal(ProtocolEventType.MessageData, e.Type);
                received += e.Payload.Length;
                ended = e.EndOfMessage;
            }

            Assert.True(input.IsEmpty);
        }

        Assert.True(ended);
        Assert.Equal(size, received);
        Assert.Equal(WebSocketDecoder.StreamChunkSize, peak);
        decoder.ReleaseIdleBuffers();
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public void A_small_single_frame_message_reserves_a_small_chunk()
    {
        var budget = new BufferBudget(MiB);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, MiB, budget) { StreamMessages = true };
        var input = new ReadOnlySequence<byte>(Frame(Opcode.Binary, new byte[300])[..100]);
        Assert.Equal(ProtocolEventType.MessageData, decoder.Read(ref input).Type);
        Assert.Equal(512, budget.InUse);
    }

    [Fact]
    public void A_message_started_whole_stays_whole_and_the_next_one_streams()
    {
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, MiB);
        var input = new ReadOnlySequence<byte>(Text("one ", fin: false));
        Assert.Equal(ProtocolEventType.NeedMoreData, decoder.Read(ref input).Type);
        decoder.StreamMessages = true;
        input = new ReadOnlySequence<byte>(Concat(Frame(Opcode.Continuation, "two"u8), Text("three")));
        ProtocolEvent first = decoder.Read(ref input);
        Assert.Equal(ProtocolEventType.Message, first.Type);
        Assert.Equal("one two", Encoding.UTF8.GetString(first.Payload.Span));
        ProtocolEvent second = decoder.Read(ref input);
        Assert.Equal(ProtocolEventType.MessageData, second.Type);
        Assert.True(second.EndOfMessage);
        Assert.Equal("three", Encoding.UTF8.GetString(second.Payload.Span));
    }
}
