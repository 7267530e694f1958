using Tern.Protocol;

namespace Tern.Tests.Protocol;

/// <summary>Writing frame headers (RFC 6455 §5.2).</summary>
public sealed class FrameHeaderTests
{
    [Fact]
    public void A_negative_payload_length_is_refused_rather_than_written_with_the_top_bit_set()
    {
        // Written as-is it would be a 64-bit length with the most significant bit set, which the peer must reject (§5.2).
        var header = new byte[FrameHeader.MaxLength];
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameHeader.Write(header, Opcode.Binary, fin: true, payloadLength: -1));
        Assert.Equal(10, FrameHeader.Write(header, Opcode.Binary, fin: true, payloadLength: long.MaxValue));
        Assert.Equal(0x7F, header[2]);
    }
}
