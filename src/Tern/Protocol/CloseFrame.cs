using System.Buffers.Binary;
using System.Text;

namespace Tern.Protocol;

/// <summary>The payload of a close frame: a 2-byte status code and an optional UTF-8 reason (RFC 6455 §5.5.1, §7.4).</summary>
public static class CloseFrame
{
    /// <summary>Longest reason that fits a control frame beside the status code.</summary>
    public const int MaxReasonBytes = FrameHeader.MaxControlPayload - 2;

    /// <summary>
    /// True for the codes a peer may put on the wire: 1000–1003 and 1007–1011 (RFC 6455), 1012–1014 (registered with
    /// IANA since: Service Restart, Try Again Later, Bad Gateway; Tern sends 1013 itself) and 3000–4999. The rest are
    /// reserved (1004–1006 and 1015 are never sent; 1016–2999 have no meaning assigned) or invalid.
    /// </summary>
    public static bool IsValidOnWire(int code) =>
        code is >= 1000 and <= 1003 or >= 1007 and <= 1014 or >= 3000 and <= 4999;

    /// <summary>Writes a close payload into <paramref name="destination"/> (at least 125 bytes) and returns its length.
    /// The reason is cut at a character boundary to fit 123 bytes.</summary>
    public static int WritePayload(Span<byte> destination, WebSocketCloseCode code, string? reason)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)code);
        if (string.IsNullOrEmpty(reason))
        {
            return 2;
        }

        Span<byte> reasonBytes = destination.Slice(2, MaxReasonBytes);
        Encoding.UTF8.GetEncoder().Convert(reason, reasonBytes, flush: true, out _, out int written, out _);
        return 2 + written;
    }

    /// <summary>The UTF-8 byte count of a reason after <see cref="WritePayload"/> would cut it.</summary>
    public static bool FitsReason(string? reason) => reason is null || Encoding.UTF8.GetByteCount(reason) <= MaxReasonBytes;
}
