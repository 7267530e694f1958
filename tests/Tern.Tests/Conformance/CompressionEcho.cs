namespace Tern.Tests.Conformance;

/// <summary>
/// The echo run shared by categories 12 and 13, after Autobahn's Case12_X_X: a batch of compressed messages sent one at a
/// time, each auto-fragmented on the wire, each echo awaited and compared byte for byte before the next goes out.
/// </summary>
internal static class CompressionEcho
{
    /// <summary>Autobahn's default offer (<c>PerMessageDeflateOffer()</c>): the client accepts any client window size.</summary>
    public const string DefaultOffer = "permessage-deflate; client_max_window_bits";

    /// <summary>Autobahn's 18 sub-cases of every 12.x and 13.x: message size and auto-fragment size (0: one frame).</summary>
    public static readonly (int Size, int FragmentSize)[] Sizes =
    [
        (16, 0), (64, 0), (256, 0), (1024, 0), (4096, 0), (8192, 0), (16384, 0), (32768, 0), (65536, 0), (131072, 0),
        (8192, 256), (16384, 256), (32768, 256), (65536, 256), (131072, 256), (131072, 1024), (131072, 4096), (131072, 32768),
    ];

    /// <summary>
    /// Messages per case: Autobahn sends 1000 of every size (about 1.3 GB for the two categories); here about 256 KiB
    /// per case, between 4 and 40 messages, which keeps both categories to a few seconds.
    /// </summary>
    public static int MessageCount(int size) => Math.Clamp(256 * 1024 / size, 4, 40);

    /// <summary>
    /// Sends <paramref name="count"/> messages of <paramref name="size"/> bytes, compressed, in frames of
    /// <paramref name="fragmentSize"/>, the kind of message i being <paramref name="kindOf"/>(i), and expects each echoed
    /// intact. With <paramref name="threshold"/> (the server's compression threshold, when known), also checks which
    /// echoes came back compressed.
    /// </summary>
    public static async Task RunAsync(RawClient client, Func<int, PayloadKind> kindOf, int size, int fragmentSize, int count, int? threshold)
    {
        DeflateSession deflate = client.Deflate ?? throw new Xunit.Sdk.XunitException("permessage-deflate was not negotiated.");
        for (int i = 0; i < count; i++)
        {
            PayloadKind kind = kindOf(i);
            byte[] message = CompressionPayloads.Messages(kind, size, 1, first: i).Single();
            int opcode = CompressionPayloads.Opcode(kind);
            await client.SendMessageAsync(opcode, message, fragmentSize: fragmentSize);
            ServerEvent echo = await client.ExpectMessageAsync(opcode, message);
            if (threshold is { } minimum)
            {
                AssertCompressedAsExpected(echo, kind, deflate.Agreement, minimum, $"message {i + 1} of {count}");
            }
        }
    }

    /// <summary>
    /// What Tern promises about the messages it sends under permessage-deflate: uncompressed when the agreed server
    /// window is 8 bits (zlib cannot make one; RSV1 clear is always allowed) or the message is under the threshold;
    /// compressed otherwise, unless deflate cannot shrink it.
    /// </summary>
    public static void AssertCompressedAsExpected(ServerEvent echo, PayloadKind kind, DeflateAgreement agreement, int threshold, string which)
    {
        int size = echo.Payload.Length;
        if (agreement.ServerMaxWindowBits == 8)
        {
            Assert.False(echo.Compressed, $"The echo of {which} ({size} bytes) came back compressed although server_max_window_bits=8 was agreed, which Tern honours by not compressing.");
        }
        else if (size < threshold)
        {
            Assert.False(echo.Compressed, $"The echo of {which} ({size} bytes) came back compressed although it is under the server's threshold of {threshold} bytes.");
        }
        else if (CompressionPayloads.Compressible(kind))
        {
            Assert.True(echo.Compressed, $"The echo of {which} ({size} bytes of {kind}) came back uncompressed although it is at or over the server's threshold of {threshold} bytes ({agreement.Response}).");
        }
    }
}
