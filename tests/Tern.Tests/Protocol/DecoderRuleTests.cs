using System.Buffers;
using Tern.Protocol;
using static Tern.Tests.Protocol.FrameBuilder;

namespace Tern.Tests.Protocol;

/// <summary>RFC 6455 rules that mutation testing found no test pinning down, each fed as bytes.</summary>
public sealed class DecoderRuleTests
{
    private static ProtocolEvent DecodeOne(byte[] wire, bool server = true)
    {
        using var decoder = new WebSocketDecoder(server, maxMessageSize: 1 << 20);
        var input = new ReadOnlySequence<byte>(wire);
        return decoder.Read(ref input);
    }

    [Fact]
    public void A_close_reason_ending_inside_a_utf8_sequence_is_invalid_payload_data()
    {
        // §8.1: the reason is UTF-8 as a whole; every byte so far being valid is not enough (Autobahn 7.5.1's family).
        // 1000, then 'a' and the first two bytes of the three-byte '€'.
        ProtocolEvent e = DecodeOne(Frame(Opcode.Close, [0x03, 0xE8, 0x61, 0xE2, 0x82]));
        Assert.Equal(ProtocolEventType.ProtocolError, e.Type);
        Assert.Equal(WebSocketCloseCode.InvalidPayloadData, e.CloseCode);

        ProtocolEvent whole = DecodeOne(Frame(Opcode.Close, [0x03, 0xE8, 0x61, 0xE2, 0x82, 0xAC]));
        Assert.Equal(ProtocolEventType.Close, whole.Type);
        Assert.Equal("a€", whole.Reason);
    }
}
