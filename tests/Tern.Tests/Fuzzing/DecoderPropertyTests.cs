using System.Buffers;
using System.Buffers.Binary;
using Tern.Protocol;
using Xunit.Abstractions;

namespace Tern.Tests.Fuzzing;

/// <summary>
/// Seeded property tests of <see cref="WebSocketDecoder"/>: generated valid streams decode to exactly what was sent,
/// however they are chopped; mutated and random streams produce only events and protocol errors, the same whole or
/// chopped, with progress on every call and no message over the limit.
/// </summary>
public class DecoderPropertyTests(ITestOutputHelper output)
{
    private const long Unlimited = 1 << 20;

    /// <summary>Decodes the wire whole, then chopped in a random style, and checks both runs agree.</summary>
    private static List<DecodedEvent> DecodeBothWays(Random random, byte[] wire, bool server, long limit)
    {
        List<DecodedEvent> whole = Drivers.Decode([wire], server, limit);
        int style = random.Next(4);
        List<DecodedEvent> chopped = Drivers.Decode(Drivers.Pieces(wire, Drivers.ChopPlan(random, wire.Length, style)), server, limit);
        Drivers.Expect(Drivers.Same(whole, chopped),
            $"chop style {style} changed the events of {Convert.ToHexString(wire.AsSpan(0, Math.Min(wire.Length, 200)))}:\n whole:\n  {Drivers.Describe(whole)}\n chopped:\n  {Drivers.Describe(chopped)}");
        return whole;
    }

    [Fact]
    public void Valid_streams_decode_to_the_messages_sent_however_chopped()
    {
        Property.ForAll(output, "valid streams", 1500, random =>
        {
            bool server = random.Next(4) != 0;
            FrameStream stream = Generators.ValidStream(random, masked: server);
            List<DecodedEvent> events = DecodeBothWays(random, stream.Wire, server, Unlimited);
            Drivers.Expect(events.Count == stream.Expected.Count, $"{events.Count} events for {stream.Expected.Count} sent:\n  {Drivers.Describe(events)}");
            foreach ((DecodedEvent got, Sent sent) in events.Zip(stream.Expected))
            {
                Drivers.Expect(got.SameAs(new DecodedEvent(sent.Type, sent.Kind, sent.Type == ProtocolEventType.Close ? [] : sent.Payload, sent.Code, sent.Reason)),
                    $"decoded {got}, sent {sent.Type} {sent.Kind} {sent.Payload.Length} bytes {sent.Code} {sent.Reason}");
            }
        });
    }

    [Fact]
    public void Mutated_streams_give_only_events_or_protocol_errors_the_same_however_chopped()
    {
        long[] limits = [0, 1, 125, 126, 1000, 65_536, Unlimited];
        Property.ForAll(output, "mutated streams", 3000, random =>
        {
            bool server = random.Next(4) != 0;
            FrameStream stream = Generators.ValidStream(random, masked: server, maxMessageLength: 600);
            byte[] wire = Generators.MutateFrames(random, stream);
            DecodeBothWays(random, wire, server, limits[random.Next(limits.Length)]);
        });
    }

    /// <summary>
    /// Streaming mode hands out the same messages, control events and errors as whole-message mode, valid input or not,
    /// however the input is chopped: only the way a message's bytes are delivered differs.
    /// </summary>
    [Fact]
    public void Streaming_mode_gives_the_same_messages_and_errors_as_whole_messages()
    {
        long[] limits = [0, 1, 125, 1000, Unlimited];
        Property.ForAll(output, "streaming against whole", 1500, random =>
        {
            bool server = random.Next(4) != 0;
            FrameStream stream = Generators.ValidStream(random, masked: server, maxMessageLength: 3000);
            byte[] wire = random.Next(2) == 0 ? stream.Wire : Generators.MutateFrames(random, stream);
            long limit = limits[random.Next(limits.Length)];
            List<DecodedEvent> whole = Drivers.Decode([wire], server, limit);
            List<DecodedEvent> streamed = Drivers.Decode(Drivers.Pieces(wire, Drivers.ChopPlan(random, wire.Length, random.Next(4))), server, limit, streaming: true);
            Drivers.Expect(Drivers.Same(whole, streamed),
                $"streaming changed the events of {Convert.ToHexString(wire.AsSpan(0, Math.Min(wire.Length, 200)))}:\n whole:\n  {Drivers.Describe(whole)}\n streamed:\n  {Drivers.Describe(streamed)}");
        });
    }

    [Fact]
    public void Random_bytes_give_only_events_or_protocol_errors_the_same_however_chopped()
    {
        Property.ForAll(output, "random bytes", 2000, random =>
        {
            byte[] wire = Generators.Bytes(random, random.Next(0, 300));
            DecodeBothWays(random, wire, server: random.Next(2) == 0, random.Next(2) == 0 ? 100 : Unlimited);
        });
    }

    /// <summary>
    /// A message whose fragments add up to more than the limit fails with 1009 as soon as the header of the fragment
    /// that crosses it arrives, before its payload: the decoder never buffers more than the limit.
    /// </summary>
    [Fact]
    public void Oversize_messages_fail_with_1009_from_the_header_before_the_payload()
    {
        Property.ForAll(output, "oversize from the header", 1000, random =>
        {
            long limit = random.Next(4) == 0 ? random.Next(0, 3) : random.Next(0, 5000);
            bool server = random.Next(4) != 0;
            var wire = new List<byte>();
            long total = 0;
            int fragments = random.Next(1, 5);
            for (int f = 0; f < fragments - 1; f++)
            {
                int length = (int)Math.Min(limit - total, random.Next(0, (int)limit / fragments + 1));
                wire.AddRange(Generators.Frame(random, f == 0 ? Opcode.Binary : Opcode.Continuation, Generators.Bytes(random, length), fin: false, server));
                total += length;
            }

            // The crossing frame: just over the limit, far over it, a huge 64-bit length, or one so close to 2^63
            // that adding the bytes already received overflows.
            long over = random.Next(4) switch
            {
                0 => limit - total + 1,
                1 => limit - total + random.Next(1, 100_000),
                2 => random.NextInt64(limit - total + 1, long.MaxValue),
                _ => long.MaxValue - random.Next(0, (int)Math.Min(total + 2, int.MaxValue)),
            };
            var header = new byte[FrameHeader.MaxLength];
            int headerLength = FrameHeader.Write(header, fragments == 1 ? Opcode.Text : Opcode.Continuation, fin: true, over, server, maskKey: 0x01020304);
            wire.AddRange(header.AsSpan(0, headerLength).ToArray());

            List<DecodedEvent> events = DecodeBothWays(random, [.. wire], server, limit);
            DecodedEvent last = Assert.Single(events);
            Drivers.Expect(last.Type == ProtocolEventType.ProtocolError && last.Code == WebSocketCloseCode.MessageTooBig,
                $"a {over}-byte frame after {total} bytes with a {limit}-byte limit gave {last}");
        });
    }

    [Fact]
    public void A_64_bit_length_with_the_top_bit_set_fails_with_1002_from_the_header()
    {
        Property.ForAll(output, "top bit of the 64-bit length", 300, random =>
        {
            var header = new byte[14];
            header[0] = (byte)(0x80 | (random.Next(2) == 0 ? 0x1 : 0x2));
            header[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(header.AsSpan(2), 1UL << 63 | (ulong)random.NextInt64());
            var input = new ReadOnlySequence<byte>(header);
            using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: long.MaxValue);
            ProtocolEvent e = decoder.Read(ref input);
            Drivers.Expect(e.Type == ProtocolEventType.ProtocolError && e.CloseCode == WebSocketCloseCode.ProtocolError, $"got {e.Type} {e.CloseCode}");
        });
    }
}
