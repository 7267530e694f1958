using System.IO.Compression;

namespace Tern.Tests.Compression;

/// <summary>
/// permessage-deflate done independently of Tern, with <see cref="DeflateStream"/>: a message compressed and
/// flushed (Z_SYNC_FLUSH) with the trailing 00 00 FF FF removed, and the reverse.
/// </summary>
internal static class Deflate
{
    public static byte[] Compress(ReadOnlySpan<byte> message)
    {
        var output = new MemoryStream();
        using (var deflate = new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            deflate.Write(message);
            deflate.Flush();
        }

        byte[] bytes = output.ToArray();
        // Disposing adds a final empty block after the flush's 00 00 FF FF; keep what precedes that tail.
        int tail = bytes.AsSpan().LastIndexOf((ReadOnlySpan<byte>)[0x00, 0x00, 0xFF, 0xFF]);
        return message.IsEmpty ? [0x00] : bytes[..tail];
    }

    public static byte[] Decompress(ReadOnlySpan<byte> payload)
    {
        byte[] input = [.. payload, 0x00, 0x00, 0xFF, 0xFF];
        using var deflate = new DeflateStream(new MemoryStream(input), CompressionMode.Decompress);
        var output = new MemoryStream();
        var buffer = new byte[8192];
        int read;
        // Read until the input runs out: the stream has no final block, so reading to the end would throw or block.
        while ((read = deflate.Read(buffer)) > 0)
        {
            output.Write(buffer, 0, read);
        }

        return output.ToArray();
    }
}
