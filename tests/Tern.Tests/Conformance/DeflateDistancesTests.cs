using System.IO.Compression;

namespace Tern.Tests.Conformance;

/// <summary>
/// The suite's own deflate tools checked against DeflateStream: <see cref="DeflateDistances"/> finds the long
/// back-references of ordinary compression, and the run-length strategy the raw client uses for a window under 15 bits
/// never refers further back than one byte.
/// </summary>
public class DeflateDistancesTests
{
    [Theory]
    [InlineData(PayloadKind.Json)]
    [InlineData(PayloadKind.Bitmap)]
    [InlineData(PayloadKind.Prose)]
    public void Distances_are_read_from_the_deflate_data(PayloadKind kind)
    {
        byte[] message = CompressionPayloads.Messages(kind, 131072, 1).Single();
        Assert.InRange(DeflateDistances.Max(Compress(message, ZLibCompressionStrategy.Default)), 4097, 32768);
        Assert.InRange(DeflateDistances.Max(Compress(message, ZLibCompressionStrategy.RunLengthEncoding)), 0, 1);
    }

    [Fact]
    public void Stored_blocks_have_no_distances()
    {
        byte[] noise = CompressionPayloads.Messages(PayloadKind.Noise, 65536, 1).Single();
        Assert.Equal(0, DeflateDistances.Max(Compress(noise, ZLibCompressionStrategy.Default)));
    }

    private static byte[] Compress(byte[] message, ZLibCompressionStrategy strategy)
    {
        var output = new MemoryStream();
        using (var deflate = new DeflateStream(output, new ZLibCompressionOptions { CompressionLevel = 6, CompressionStrategy = strategy }, leaveOpen: true))
        {
            deflate.Write(message);
        }

        byte[] compressed = output.ToArray();
        using var inflate = new DeflateStream(new MemoryStream(compressed), CompressionMode.Decompress);
        var inflated = new MemoryStream();
        inflate.CopyTo(inflated);
        Assert.Equal(message, inflated.ToArray());
        return compressed;
    }
}
