using System.Buffers;
using System.Numerics;
using Tern.Protocol;

namespace Tern.Tests.Protocol;

/// <summary>
/// How the decoder sizes, grows and gives back message buffers, seen through the <see cref="BufferBudget"/> it reserves
/// them from: the budget is what bounds a server's memory, so what a decoder holds at each step is part of the contract.
/// Pooled buffers are rented from <see cref="ArrayPool{T}.Shared"/>, whose arrays are a power of two long (at least the
/// 256-byte minimum here); buffers over 1 MiB are exact-sized.
/// </summary>
public sealed class DecoderBufferTests
{
    private const int MiB = 1024 * 1024;

    /// <summary>Only the header of a masked frame (no payload bytes), so a test can declare a huge length cheaply.</summary>
    private static byte[] Header(Opcode opcode, long payloadLength, bool fin = true)
    {
        var header = new byte[FrameHeader.GetLength(payloadLength, masked: true)];
        FrameHeader.Write(header, opcode, fin, payloadLength, masked: true, FrameBuilder.DefaultMask);
        return header;
    }

    private static ProtocolEvent ReadAll(WebSocketDecoder decoder, byte[] bytes)
    {
        var input = new ReadOnlySequence<byte>(bytes);
        ProtocolEvent e = decoder.Read(ref input);
        Assert.True(input.IsEmpty || e.Type != ProtocolEventType.NeedMoreData, "the decoder left input unread");
        return e;
    }

    [Fact]
    public void Abandoning_gives_the_budget_back_but_leaves_a_payload_in_use_intact()
    {
        var budget = new BufferBudget(16 * MiB);
        var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: MiB, budget);
        byte[] payload = Enumerable.Range(0, 3000).Select(i => (byte)i).ToArray();
        ProtocolEvent message = ReadAll(decoder, FrameBuilder.Frame(Opcode.Binary, payload));
        Assert.Equal(ProtocolEventType.Message, message.Type);
        Assert.True(budget.InUse > 0);

        decoder.Abandon();

        Assert.Equal(0, budget.InUse);
        // Had the buffer gone back to the pool, these rentals (same size class, same thread) would get it and scribble on it.
        var rented = new List<byte[]>();
        for (int i = 0; i < 8; i++)
        {
            byte[] array = ArrayPool<byte>.Shared.Rent(payload.Length);
            array.AsSpan().Fill(0xEE);
            rented.Add(array);
        }

        Assert.True(message.Payload.Span.SequenceEqual(payload));
        rented.ForEach(array => ArrayPool<byte>.Shared.Return(array));
        Assert.True(decoder.IsFinished);
    }

    [Fact]
    public void A_header_alone_reserves_no_more_than_the_pooled_limit_whatever_length_it_declares()
    {
        // The regression behind growing large buffers as bytes arrive: a 14-byte header declaring 64 MiB must not take
        // 64 MiB of the shared budget before a single payload byte has been sent.
        var budget = new BufferBudget(256L * MiB);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: 128L * MiB, budget);
        Assert.Equal(ProtocolEventType.NeedMoreData, ReadAll(decoder, Header(Opcode.Binary, 64L * MiB)).Type);
        Assert.Equal(MiB, budget.InUse);
    }

    [Fact]
    public void A_fragment_header_alone_reserves_nothing()
    {
        // A fragment does not tell the message's size: its buffer is reserved as its bytes arrive, not from its header.
        var budget = new BufferBudget(MiB);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: MiB, budget);
        Assert.Equal(ProtocolEventType.NeedMoreData, ReadAll(decoder, Header(Opcode.Binary, 1000, fin: false)).Type);
        Assert.Equal(0, budget.InUse);
    }

    [Theory]
    [InlineData(Opcode.Ping)]
    [InlineData(Opcode.Pong)]
    [InlineData(Opcode.Close)]
    public void Control_frames_take_nothing_from_the_message_budget(Opcode opcode)
    {
        // Control frames have their own 125-byte buffer; a budget at its limit must not stop a ping or a close.
        var budget = new BufferBudget(0);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: MiB, budget);
        byte[] payload = opcode == Opcode.Close ? [0x03, 0xE8] : "ping"u8.ToArray();
        ProtocolEvent e = ReadAll(decoder, FrameBuilder.Frame(opcode, payload));
        Assert.NotEqual(ProtocolEventType.ProtocolError, e.Type);
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public void A_negative_message_limit_is_refused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: -1));

    [Fact]
    public void A_small_single_frame_reserves_its_pooled_size_from_the_header()
    {
        var budget = new BufferBudget(MiB);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: MiB, budget);
        Assert.Equal(ProtocolEventType.NeedMoreData, ReadAll(decoder, Header(Opcode.Binary, 1000)).Type);
        Assert.Equal(1024, budget.InUse);
    }

    [Fact]
    public void A_large_single_frame_grows_to_exactly_its_declared_size_and_arrives_intact()
    {
        var budget = new BufferBudget(64L * MiB);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: 16L * MiB, budget);
        int length = MiB + MiB / 2;
        byte[] payload = Enumerable.Range(0, length).Select(i => (byte)(i * 31 + (i >> 11))).ToArray();
        byte[] wire = FrameBuilder.Frame(Opcode.Binary, payload);
        int headerLength = wire.Length - length;

        // Header and the first MiB: the pooled 1 MiB buffer holds them.
        Assert.Equal(ProtocolEventType.NeedMoreData, ReadAll(decoder, wire[..(headerLength + MiB)]).Type);
        Assert.Equal(MiB, budget.InUse);

        // One byte more: the buffer grows, and not by doubling past the size the header declared.
        Assert.Equal(ProtocolEventType.NeedMoreData, ReadAll(decoder, wire[(headerLength + MiB)..(headerLength + MiB + 1)]).Type);
        Assert.Equal(length, budget.InUse);

        ProtocolEvent message = ReadAll(decoder, wire[(headerLength + MiB + 1)..]);
        Assert.Equal(ProtocolEventType.Message, message.Type);
        Assert.True(message.Payload.Span.SequenceEqual(payload));
        Assert.Equal(length, budget.InUse);
        decoder.ReleaseIdleBuffers();
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public void A_fragmented_message_grows_its_buffer_by_doubling_and_keeps_every_byte()
    {
        // Fragments do not tell the final size, so growth doubles (O(log n) copies) up to the message limit.
        var budget = new BufferBudget(64L * MiB);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: 16L * MiB, budget);
        const int fragment = 64 * 1024;
        const int fragments = 17; // 1 MiB + 64 KiB
        var expected = new List<byte>();
        for (int i = 0; i < fragments; i++)
        {
            byte[] part = Enumerable.Range(0, fragment).Select(b => (byte)(b + i * 7)).ToArray();
            expected.AddRange(part);
            ProtocolEvent e = ReadAll(decoder, FrameBuilder.Frame(i == 0 ? Opcode.Binary : Opcode.Continuation, part, fin: false));
            Assert.Equal(ProtocolEventType.NeedMoreData, e.Type);
            // One buffer at a time: the old one goes back as soon as the bigger one holds its bytes.
            long held = (long)fragment * (i + 1);
            long buffer = held <= MiB ? (long)BitOperations.RoundUpToPowerOf2((uint)held) : 2L * MiB;
            Assert.Equal(buffer, budget.InUse);
        }

        ProtocolEvent message = ReadAll(decoder, FrameBuilder.Frame(Opcode.Continuation, "end"u8));
        Assert.Equal(ProtocolEventType.Message, message.Type);
        expected.AddRange("end"u8.ToArray());
        Assert.True(message.Payload.Span.SequenceEqual(expected.ToArray()));
    }

    [Fact]
    public void A_buffer_filled_exactly_is_not_grown()
    {
        var budget = new BufferBudget(MiB);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: MiB, budget);
        Assert.Equal(ProtocolEventType.NeedMoreData, ReadAll(decoder, FrameBuilder.Frame(Opcode.Binary, new byte[200], fin: false)).Type);
        Assert.Equal(256, budget.InUse);
        Assert.Equal(ProtocolEventType.NeedMoreData, ReadAll(decoder, FrameBuilder.Frame(Opcode.Continuation, new byte[56], fin: false)).Type);
        Assert.Equal(256, budget.InUse);

        // The last fragment declares the final size (257), so growth stops there rather than doubling to the limit.
        ProtocolEvent message = ReadAll(decoder, FrameBuilder.Frame(Opcode.Continuation, [7]));
        Assert.Equal(ProtocolEventType.Message, message.Type);
        Assert.Equal(257, message.Payload.Length);
        Assert.Equal(7, message.Payload.Span[256]);
        Assert.Equal(512, budget.InUse);
    }

    [Fact]
    public void The_next_message_gives_back_the_previous_buffer_before_taking_its_own()
    {
        var budget = new BufferBudget(MiB);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: MiB, budget);
        Assert.Equal(ProtocolEventType.Message, ReadAll(decoder, FrameBuilder.Frame(Opcode.Binary, new byte[3000])).Type);
        Assert.Equal(4096, budget.InUse);

        // A small message after a large one holds a small buffer, not the large one reused.
        ProtocolEvent small = ReadAll(decoder, FrameBuilder.Text("hi"));
        Assert.Equal("hi"u8.ToArray(), small.Payload.ToArray());
        Assert.Equal(256, budget.InUse);

        // A partial header is not a message yet: the last message's buffer goes back while waiting for the rest.
        var firstByte = new ReadOnlySequence<byte>([0x82]);
        Assert.Equal(ProtocolEventType.NeedMoreData, decoder.Read(ref firstByte).Type);
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public void Releasing_idle_buffers_mid_message_keeps_the_partial_message()
    {
        var budget = new BufferBudget(MiB);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: MiB, budget);
        Assert.Equal(ProtocolEventType.NeedMoreData, ReadAll(decoder, FrameBuilder.Text("Hel", fin: false)).Type);
        decoder.ReleaseIdleBuffers();
        Assert.Equal(256, budget.InUse);
        Assert.True(decoder.IsMidMessage);

        ProtocolEvent message = ReadAll(decoder, FrameBuilder.Frame(Opcode.Continuation, "lo"u8));
        Assert.Equal(ProtocolEventType.Message, message.Type);
        Assert.Equal("Hello"u8.ToArray(), message.Payload.ToArray());
        decoder.ReleaseIdleBuffers();
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public void Releasing_idle_buffers_inside_a_partly_received_ping_keeps_its_bytes()
    {
        // The connection releases idle buffers whenever the application asks for the next message, which can fall
        // between two reads of one control frame.
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: MiB);
        byte[] ping = FrameBuilder.Frame(Opcode.Ping, "ping payload"u8);
        Assert.Equal(ProtocolEventType.NeedMoreData, ReadAll(decoder, ping[..10]).Type);
        decoder.ReleaseIdleBuffers();
        ProtocolEvent e = ReadAll(decoder, ping[10..]);
        Assert.Equal(ProtocolEventType.Ping, e.Type);
        Assert.Equal("ping payload"u8.ToArray(), e.Payload.ToArray());
    }

    [Fact]
    public void A_refusal_over_budget_gives_back_what_the_message_held()
    {
        // 1013 must leave the budget as it found it, or each refused peer would shrink it for everyone.
        var budget = new BufferBudget(MiB + 1024);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: 8L * MiB, budget);
        Assert.True(budget.TryReserve(1024)); // someone else's share
        ProtocolEvent e = default;
        for (int i = 0; i < 32 && e.Type != ProtocolEventType.ProtocolError; i++)
        {
            e = ReadAll(decoder, FrameBuilder.Frame(i == 0 ? Opcode.Binary : Opcode.Continuation, new byte[64 * 1024], fin: false));
        }

        Assert.Equal(ProtocolEventType.ProtocolError, e.Type);
        Assert.Equal(WebSocketCloseCode.TryAgainLater, e.CloseCode);
        Assert.False(string.IsNullOrWhiteSpace(e.Reason));
        Assert.True(decoder.IsFinished);
        Assert.Equal(1024, budget.InUse);
    }

    [Fact]
    public void A_single_frame_over_the_budget_is_refused_from_its_header_with_1013()
    {
        var budget = new BufferBudget(512);
        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: MiB, budget);
        ProtocolEvent e = ReadAll(decoder, Header(Opcode.Text, 1000));
        Assert.Equal(ProtocolEventType.ProtocolError, e.Type);
        Assert.Equal(WebSocketCloseCode.TryAgainLater, e.CloseCode);
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public void A_disposed_decoder_reads_nothing()
    {
        var budget = new BufferBudget(MiB);
        var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: MiB, budget);
        var partial = new ReadOnlySequence<byte>(FrameBuilder.Text("Hel", fin: false));
        Assert.Equal(ProtocolEventType.NeedMoreData, decoder.Read(ref partial).Type);
        decoder.Dispose();
        Assert.True(decoder.IsFinished);
        Assert.False(decoder.IsMidMessage);
        Assert.Equal(0, budget.InUse);

        var input = new ReadOnlySequence<byte>(FrameBuilder.Text("x"));
        Assert.Equal(ProtocolEventType.NeedMoreData, decoder.Read(ref input).Type);
        Assert.Equal(FrameBuilder.Text("x").Length, input.Length);
    }
}
