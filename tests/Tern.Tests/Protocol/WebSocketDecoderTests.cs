using System.Buffers;
using System.Text;
using Tern.Protocol;
using static Tern.Tests.Protocol.FrameBuilder;

namespace Tern.Tests.Protocol;

public class WebSocketDecoderTests
{
    private sealed record Seen(ProtocolEventType Type, WebSocketMessageKind Kind, byte[] Payload, WebSocketCloseCode Code, string Reason);

    /// <summary>Feeds the bytes in the given chunks, as a pipe would (unconsumed bytes stay in front of new ones).</summary>
    private static List<Seen> Decode(byte[] wire, IEnumerable<int> chunkSizes, long maxMessage = 1 << 20, bool server = true)
    {
        using var decoder = new WebSocketDecoder(server, maxMessage);
        var events = new List<Seen>();
        var pending = new List<byte>();
        int position = 0;
        foreach (int size in chunkSizes.Append(int.MaxValue))
        {
            int take = Math.Min(size, wire.Length - position);
            pending.AddRange(wire.AsSpan(position, take).ToArray());
            position += take;
            var input = new ReadOnlySequence<byte>(pending.ToArray());
            while (true)
            {
                ProtocolEvent e = decoder.Read(ref input);
                if (e.Type == ProtocolEventType.NeedMoreData)
                {
                    break;
                }

                events.Add(new Seen(e.Type, e.MessageKind, e.Payload.ToArray(), e.CloseCode, e.Reason));
                if (decoder.IsFinished)
                {
                    break;
                }
            }

            pending = input.ToArray().ToList();
            if (position == wire.Length || decoder.IsFinished)
            {
                break;
            }
        }

        return events;
    }

    private static List<Seen> DecodeWhole(byte[] wire, long maxMessage = 1 << 20, bool server = true) => Decode(wire, [wire.Length], maxMessage, server);

    private static Seen Single(byte[] wire, long maxMessage = 1 << 20) => Assert.Single(DecodeWhole(wire, maxMessage));

    private static void AssertError(byte[] wire, WebSocketCloseCode code, long maxMessage = 1 << 20)
    {
        Seen last = DecodeWhole(wire, maxMessage)[^1];
        Assert.Equal(ProtocolEventType.ProtocolError, last.Type);
        Assert.Equal(code, last.Code);
        Assert.False(string.IsNullOrWhiteSpace(last.Reason));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(127)]
    [InlineData(65535)]
    [InlineData(65536)]
    [InlineData(1 << 20)]
    public void Every_length_form_round_trips(int length)
    {
        byte[] payload = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
        Seen seen = Single(Frame(Opcode.Binary, payload));
        Assert.Equal(ProtocolEventType.Message, seen.Type);
        Assert.Equal(WebSocketMessageKind.Binary, seen.Kind);
        Assert.Equal(payload, seen.Payload);
    }

    [Fact]
    public void Length_forms_use_the_smallest_encoding()
    {
        Assert.Equal(2, FrameHeader.GetLength(125, false));
        Assert.Equal(4, FrameHeader.GetLength(126, false));
        Assert.Equal(4, FrameHeader.GetLength(65535, false));
        Assert.Equal(10, FrameHeader.GetLength(65536, false));
        Assert.Equal(14, FrameHeader.GetLength(65536, true));
        Assert.Equal(127, Frame(Opcode.Binary, new byte[65536])[1] & 0x7F);
        Assert.Equal(126, Frame(Opcode.Binary, new byte[126])[1] & 0x7F);
    }

    [Fact]
    public void A_64_bit_length_with_the_top_bit_set_is_a_protocol_error()
    {
        byte[] frame = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4];
        AssertError(frame, WebSocketCloseCode.ProtocolError);
    }

    [Fact]
    public void Unmasked_client_frame_is_a_protocol_error() =>
        AssertError(Frame(Opcode.Text, "hi"u8, masked: false), WebSocketCloseCode.ProtocolError);

    [Fact]
    public void Masked_server_frame_is_a_protocol_error_for_a_client()
    {
        Seen last = DecodeWhole(Frame(Opcode.Text, "hi"u8, masked: true), server: false)[^1];
        Assert.Equal(WebSocketCloseCode.ProtocolError, last.Code);
        Assert.Equal("hi", Encoding.UTF8.GetString(Assert.Single(DecodeWhole(Frame(Opcode.Text, "hi"u8, masked: false), server: false)).Payload));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(7)]
    public void Reserved_bits_without_an_extension_are_a_protocol_error(byte rsv) =>
        AssertError(Frame(Opcode.Text, "x"u8, rsv: rsv), WebSocketCloseCode.ProtocolError);

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    [InlineData(15)]
    public void Reserved_opcodes_are_a_protocol_error(int opcode) =>
        AssertError(RawOpcode(opcode, "x"u8), WebSocketCloseCode.ProtocolError);

    [Fact]
    public void Control_frames_over_125_bytes_are_a_protocol_error()
    {
        Assert.Equal(ProtocolEventType.Ping, Single(Frame(Opcode.Ping, new byte[125])).Type);
        AssertError(Frame(Opcode.Ping, new byte[126]), WebSocketCloseCode.ProtocolError);
    }

    [Theory]
    [InlineData(Opcode.Ping)]
    [InlineData(Opcode.Pong)]
    [InlineData(Opcode.Close)]
    public void Fragmented_control_frames_are_a_protocol_error(Opcode opcode) =>
        AssertError(Frame(opcode, "ab"u8, fin: false), WebSocketCloseCode.ProtocolError);

    [Fact]
    public void Continuation_without_a_message_is_a_protocol_error() =>
        AssertError(Frame(Opcode.Continuation, "x"u8), WebSocketCloseCode.ProtocolError);

    [Fact]
    public void New_message_inside_a_fragmented_one_is_a_protocol_error() =>
        AssertError(Concat(Frame(Opcode.Text, "a"u8, fin: false), Frame(Opcode.Text, "b"u8)), WebSocketCloseCode.ProtocolError);

    [Fact]
    public void Fragments_are_reassembled_and_pings_inside_are_reported_first()
    {
        byte[] wire = Concat(
            Frame(Opcode.Text, "Hel"u8, fin: false),
            Frame(Opcode.Ping, "p1"u8),
            Frame(Opcode.Continuation, ""u8, fin: false),
            Frame(Opcode.Continuation, "lo"u8));
        List<Seen> events = DecodeWhole(wire);
        Assert.Equal([ProtocolEventType.Ping, ProtocolEventType.Message], events.Select(e => e.Type));
        Assert.Equal("p1", Encoding.UTF8.GetString(events[0].Payload));
        Assert.Equal("Hello", Encoding.UTF8.GetString(events[1].Payload));
        Assert.Equal(WebSocketMessageKind.Text, events[1].Kind);
    }

    [Fact]
    public void Invalid_utf8_fails_at_the_first_bad_fragment_before_the_message_ends()
    {
        // "κόσμε" then F4 90 (beyond U+10FFFF) in the second fragment; the third never needs to arrive.
        byte[] good = Encoding.UTF8.GetBytes("κόσμε");
        byte[] wire = Concat(Frame(Opcode.Text, good, fin: false), Frame(Opcode.Continuation, [0xF4, 0x90, 0x80, 0x80], fin: false));
        AssertError(wire, WebSocketCloseCode.InvalidPayloadData);
    }

    [Fact]
    public void Invalid_utf8_fails_inside_a_partly_received_frame()
    {
        // Only the first bytes of one large frame arrive; the invalid byte must be caught without the rest.
        byte[] payload = new byte[1000];
        payload.AsSpan().Fill((byte)'a');
        payload[10] = 0xC0;
        byte[] frame = Frame(Opcode.Text, payload);
        List<Seen> events = Decode(frame[..20], [20]);
        Assert.Equal(WebSocketCloseCode.InvalidPayloadData, Assert.Single(events).Code);
    }

    [Fact]
    public void Text_ending_inside_a_utf8_sequence_is_invalid() =>
        AssertError(Frame(Opcode.Text, [0x61, 0xE2, 0x82]), WebSocketCloseCode.InvalidPayloadData);

    [Fact]
    public void A_utf8_sequence_split_across_fragments_is_valid()
    {
        byte[] euro = Encoding.UTF8.GetBytes("€");
        Seen seen = Single(Concat(Frame(Opcode.Text, euro[..1], fin: false), Frame(Opcode.Continuation, euro[1..])));
        Assert.Equal("€", Encoding.UTF8.GetString(seen.Payload));
    }

    [Fact]
    public void Message_size_limit_is_enforced_from_the_header_before_the_payload_arrives()
    {
        byte[] frame = Frame(Opcode.Binary, new byte[2000]);
        List<Seen> events = Decode(frame[..14], [14], maxMessage: 1000);
        Assert.Equal(WebSocketCloseCode.MessageTooBig, Assert.Single(events).Code);
    }

    [Fact]
    public void Message_size_limit_counts_all_fragments()
    {
        byte[] wire = Concat(Frame(Opcode.Binary, new byte[600], fin: false), Frame(Opcode.Continuation, new byte[600]));
        AssertError(wire, WebSocketCloseCode.MessageTooBig, maxMessage: 1000);
        Assert.Equal(1000, Single(Concat(Frame(Opcode.Binary, new byte[400], fin: false), Frame(Opcode.Continuation, new byte[600])), 1000).Payload.Length);
    }

    [Fact]
    public void Close_with_code_and_reason()
    {
        Seen seen = Single(FrameBuilder.Close(1000, "bye ✓"));
        Assert.Equal(ProtocolEventType.Close, seen.Type);
        Assert.Equal(WebSocketCloseCode.NormalClosure, seen.Code);
        Assert.Equal("bye ✓", seen.Reason);
    }

    [Fact]
    public void Empty_close_reports_no_status()
    {
        Seen seen = Single(Frame(Opcode.Close, []));
        Assert.Equal(WebSocketCloseCode.NoStatusReceived, seen.Code);
    }

    [Fact]
    public void One_byte_close_payload_is_a_protocol_error() =>
        AssertError(Frame(Opcode.Close, [0x03]), WebSocketCloseCode.ProtocolError);

    [Theory]
    [InlineData(1000, true)]
    [InlineData(1001, true)]
    [InlineData(1002, true)]
    [InlineData(1003, true)]
    [InlineData(1007, true)]
    [InlineData(1008, true)]
    [InlineData(1009, true)]
    [InlineData(1010, true)]
    [InlineData(1011, true)]
    [InlineData(3000, true)]
    [InlineData(3999, true)]
    [InlineData(4000, true)]
    [InlineData(4999, true)]
    [InlineData(0, false)]
    [InlineData(999, false)]
    [InlineData(1004, false)]
    [InlineData(1005, false)]
    [InlineData(1006, false)]
    [InlineData(1012, true)]
    [InlineData(1013, true)]
    [InlineData(1014, true)]
    [InlineData(1015, false)]
    [InlineData(1016, false)]
    [InlineData(1100, false)]
    [InlineData(2000, false)]
    [InlineData(2999, false)]
    [InlineData(5000, false)]
    [InlineData(65535, false)]
    public void Close_codes_are_checked(int code, bool valid)
    {
        Seen seen = Single(FrameBuilder.Close(code));
        if (valid)
        {
            Assert.Equal(ProtocolEventType.Close, seen.Type);
            Assert.Equal(code, (int)seen.Code);
        }
        else
        {
            Assert.Equal(ProtocolEventType.ProtocolError, seen.Type);
            Assert.Equal(WebSocketCloseCode.ProtocolError, seen.Code);
        }
    }

    [Fact]
    public void Close_reason_must_be_utf8()
    {
        byte[] payload = [0x03, 0xE8, 0xCE, 0xBA, 0xF4, 0x90, 0x80, 0x80];
        AssertError(Frame(Opcode.Close, payload), WebSocketCloseCode.InvalidPayloadData);
    }

    [Fact]
    public void Nothing_is_read_after_a_close()
    {
        List<Seen> events = DecodeWhole(Concat(FrameBuilder.Close(1000), Text("after")));
        Assert.Equal(ProtocolEventType.Close, Assert.Single(events).Type);
    }

    [Fact]
    public void Payload_of_a_message_is_unmasked_whatever_the_key()
    {
        foreach (uint key in new uint[] { 0, 1, 0xFFFFFFFF, 0x12345678 })
        {
            byte[] payload = Encoding.UTF8.GetBytes("mask me, please: 0123456789abcdef0123456789");
            Assert.Equal(payload, Single(Frame(Opcode.Text, payload, mask: key)).Payload);
        }
    }

    /// <summary>A stream of valid frames of every kind, for the split and coalesce tests.</summary>
    private static byte[] MixedStream() => Concat(
        Text("first"),
        Frame(Opcode.Binary, Enumerable.Range(0, 300).Select(i => (byte)i).ToArray()),
        Frame(Opcode.Ping, "ping"u8),
        Frame(Opcode.Text, Encoding.UTF8.GetBytes("frag-€-"), fin: false),
        Frame(Opcode.Pong, "pong"u8),
        Frame(Opcode.Continuation, Encoding.UTF8.GetBytes("ment €")),
        Frame(Opcode.Binary, new byte[70000]),
        Frame(Opcode.Text, []),
        FrameBuilder.Close(1000, "done"));

    private static string Describe(IEnumerable<Seen> events) =>
        string.Join("|", events.Select(e => $"{e.Type}:{e.Kind}:{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(e.Payload))}:{(int)e.Code}:{e.Reason}"));

    [Fact]
    public void Split_at_every_byte_boundary_gives_the_same_events()
    {
        byte[] wire = MixedStream();
        string expected = Describe(DecodeWhole(wire));
        Assert.Equal(8, DecodeWhole(wire).Count); // two fragments make one message
        // Every split point in the small frames, and a stride through the large one.
        IEnumerable<int> splits = Enumerable.Range(1, 400).Concat(Enumerable.Range(400, wire.Length - 400).Where(i => i % 97 == 0 || i > wire.Length - 200));
        foreach (int split in splits)
        {
            Assert.Equal(expected, Describe(Decode(wire, [split, wire.Length - split])));
        }
    }

    [Fact]
    public void One_byte_chunks_give_the_same_events()
    {
        byte[] wire = Concat(Text("first"), Frame(Opcode.Binary, new byte[300]), Frame(Opcode.Ping, "p"u8),
            Frame(Opcode.Text, Encoding.UTF8.GetBytes("a€"), fin: false), Frame(Opcode.Continuation, Encoding.UTF8.GetBytes("€b")), FrameBuilder.Close(1001));
        Assert.Equal(Describe(DecodeWhole(wire)), Describe(Decode(wire, Enumerable.Repeat(1, wire.Length))));
    }

    [Fact]
    public void Many_frames_coalesced_in_one_buffer_give_every_message()
    {
        byte[] wire = Concat(Enumerable.Range(0, 1000).Select(i => Text($"message {i}")).ToArray());
        List<Seen> events = DecodeWhole(wire);
        Assert.Equal(1000, events.Count);
        Assert.Equal("message 999", Encoding.UTF8.GetString(events[999].Payload));
    }

    [Fact]
    public void Multi_segment_input_is_handled()
    {
        byte[] wire = MixedStream();
        string expected = Describe(DecodeWhole(wire));
        using var decoder = new WebSocketDecoder(true, 1 << 20);
        ReadOnlySequence<byte> input = TestSupport.Sequences.Chunked(wire, 7);
        var events = new List<Seen>();
        while (true)
        {
            ProtocolEvent e = decoder.Read(ref input);
            if (e.Type == ProtocolEventType.NeedMoreData)
            {
                break;
            }

            events.Add(new Seen(e.Type, e.MessageKind, e.Payload.ToArray(), e.CloseCode, e.Reason));
        }

        Assert.Equal(expected, Describe(events));
    }

    [Fact]
    public void Idle_decoder_holds_no_message_buffer_between_messages()
    {
        using var decoder = new WebSocketDecoder(true, 1 << 20);
        var input = new ReadOnlySequence<byte>(Text("hello"));
        Assert.Equal(ProtocolEventType.Message, decoder.Read(ref input).Type);
        Assert.Equal(ProtocolEventType.NeedMoreData, decoder.Read(ref input).Type);
        Assert.False(decoder.IsMidMessage);
    }
}
