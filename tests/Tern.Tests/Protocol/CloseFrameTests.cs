using System.Text;
using Tern.Protocol;

namespace Tern.Tests.Protocol;

/// <summary>Writing close payloads (RFC 6455 §5.5.1): a big-endian code, then a UTF-8 reason cut to fit 125 bytes.</summary>
public sealed class CloseFrameTests
{
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void A_close_without_a_reason_is_the_code_alone(string? reason)
    {
        var payload = new byte[FrameHeader.MaxControlPayload];
        payload.AsSpan().Fill(0xAA);
        Assert.Equal(2, CloseFrame.WritePayload(payload, WebSocketCloseCode.TryAgainLater, reason));
        Assert.Equal([0x03, 0xF5], payload[..2]); // 1013, most significant byte first
        Assert.Equal(0xAA, payload[2]);
    }

    [Fact]
    public void The_reason_follows_the_code_in_utf8()
    {
        var payload = new byte[FrameHeader.MaxControlPayload];
        int length = CloseFrame.WritePayload(payload, WebSocketCloseCode.NormalClosure, "bye ✓");
        Assert.Equal(2 + Encoding.UTF8.GetByteCount("bye ✓"), length);
        Assert.Equal([0x03, 0xE8], payload[..2]);
        Assert.Equal("bye ✓", Encoding.UTF8.GetString(payload, 2, length - 2));
    }

    [Fact]
    public void A_long_reason_is_cut_at_a_character_boundary_to_fit_the_control_frame()
    {
        // 41 three-byte characters are exactly 123 bytes; one more ASCII byte does not fit, and a further 3-byte
        // character must not be cut in the middle.
        string exact = new('€', 41);
        var payload = new byte[FrameHeader.MaxControlPayload + 10];
        Assert.Equal(FrameHeader.MaxControlPayload, CloseFrame.WritePayload(payload, WebSocketCloseCode.NormalClosure, exact + "x"));
        Assert.Equal(exact, Encoding.UTF8.GetString(payload, 2, CloseFrame.MaxReasonBytes));

        string shifted = "ab" + new string('€', 41);
        int length = CloseFrame.WritePayload(payload, WebSocketCloseCode.NormalClosure, shifted);
        Assert.Equal(2 + 2 + 40 * 3, length);
        Assert.Equal("ab" + new string('€', 40), Encoding.UTF8.GetString(payload, 2, length - 2));
    }

    [Fact]
    public void Reasons_fit_up_to_123_utf8_bytes()
    {
        Assert.Equal(123, CloseFrame.MaxReasonBytes);
        Assert.True(CloseFrame.FitsReason(null));
        Assert.True(CloseFrame.FitsReason(""));
        Assert.True(CloseFrame.FitsReason(new string('€', 41)));
        Assert.False(CloseFrame.FitsReason(new string('€', 41) + "x"));
        Assert.False(CloseFrame.FitsReason(new string('a', 124)));
    }
}
