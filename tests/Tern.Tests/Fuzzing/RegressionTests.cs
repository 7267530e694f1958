using System.Buffers;
using Tern.Protocol;
using Tern.Tests.Protocol;

namespace Tern.Tests.Fuzzing;

/// <summary>Inputs the property tests or AFL found, kept so each bug stays fixed.</summary>
public class RegressionTests
{
    /// <summary>
    /// A continuation frame whose 64-bit length is just below 2^63: added to the bytes already received, the sum
    /// overflowed to a negative number and passed the size check, so the decoder kept buffering past the limit (and
    /// would have thrown once the buffer size overflowed an int). It must fail with 1009 from the header.
    /// </summary>
    [Theory]
    [InlineData(1, long.MaxValue)]
    [InlineData(10, long.MaxValue - 9)]
    [InlineData(100, long.MaxValue - 50)]
    public void A_continuation_whose_length_overflows_the_running_total_fails_with_1009(int firstFragment, long continuationLength)
    {
        byte[] first = FrameBuilder.Frame(Opcode.Binary, new byte[firstFragment], fin: false);
        var header = new byte[FrameHeader.MaxLength];
        int headerLength = FrameHeader.Write(header, Opcode.Continuation, fin: true, continuationLength, masked: true, maskKey: 0x01020304);
        byte[] wire = [.. first, .. header.AsSpan(0, headerLength), .. new byte[4096]];

        using var decoder = new WebSocketDecoder(expectMaskedFrames: true, maxMessageSize: 1 << 20);
        var input = new ReadOnlySequence<byte>(wire);
        ProtocolEvent e = decoder.Read(ref input);

        Assert.Equal(ProtocolEventType.ProtocolError, e.Type);
        Assert.Equal(WebSocketCloseCode.MessageTooBig, e.CloseCode);
    }
}
