using System.Buffers.Binary;
using Tern.Protocol;

namespace Tern.Tests.Protocol;

public class MaskingTests
{
    private const int Guard = 80;
    private const byte GuardByte = 0xA5;

    private static readonly byte[][] WireKeys =
    [
        [0x37, 0xFA, 0x21, 0x3D],
        [0x01, 0x02, 0x04, 0x80],
        [0x00, 0x00, 0x00, 0x00],
        [0xFF, 0xFF, 0xFF, 0xFF],
        [0x9C, 0x00, 0x5B, 0xE7],
    ];

    private static uint KeyOf(byte[] wireKey) => BinaryPrimitives.ReadUInt32LittleEndian(wireKey);

    // The definition from RFC 6455 §5.3, one byte at a time.
    private static void ReferenceMask(Span<byte> data, byte[] wireKey, int keyOffset)
    {
        for (int i = 0; i < data.Length; i++)
        {
            data[i] ^= wireKey[(keyOffset + i) & 3];
        }
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        byte[] bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    // A buffer with guard bytes on both sides, the payload starting `misalignment` bytes after the front guard.
    private static byte[] Guarded(byte[] payload, int misalignment)
    {
        byte[] buffer = new byte[Guard + misalignment + payload.Length + Guard];
        buffer.AsSpan().Fill(GuardByte);
        payload.CopyTo(buffer, Guard + misalignment);
        return buffer;
    }

    private static void AssertGuardsIntact(byte[] buffer, int misalignment, int payloadLength)
    {
        int payloadStart = Guard + misalignment;
        Assert.True(buffer.AsSpan(0, payloadStart).IndexOfAnyExcept(GuardByte) < 0, "bytes before the payload changed");
        Assert.True(buffer.AsSpan(payloadStart + payloadLength).IndexOfAnyExcept(GuardByte) < 0, "bytes after the payload changed");
    }

    [Fact]
    public void Rfc6455_example_masks_Hello()
    {
        // RFC 6455 §5.7: a masked "Hello" with key 37 fa 21 3d.
        byte[] data = "Hello"u8.ToArray();

        int next = Masking.Apply(data, KeyOf([0x37, 0xFA, 0x21, 0x3D]), 0);

        Assert.Equal(new byte[] { 0x7F, 0x9F, 0x4D, 0x51, 0x58 }, data);
        Assert.Equal(1, next);
    }

    [Fact]
    public void Key_byte_i_is_maskKey_shifted_right_by_8i()
    {
        byte[] zeros = new byte[9];

        Masking.Apply(zeros, 0x44332211, 0);

        Assert.Equal(new byte[] { 0x11, 0x22, 0x33, 0x44, 0x11, 0x22, 0x33, 0x44, 0x11 }, zeros);
    }

    [Fact]
    public void Key_offset_selects_the_first_key_byte()
    {
        for (int keyOffset = 0; keyOffset < 4; keyOffset++)
        {
            byte[] zeros = new byte[6];

            Masking.Apply(zeros, 0x44332211, keyOffset);

            byte[] expected = [.. Enumerable.Range(keyOffset, 6).Select(i => (byte)(0x11 * ((i & 3) + 1)))];
            Assert.Equal(expected, zeros);
        }
    }

    [Fact]
    public void In_place_matches_reference_for_lengths_0_to_300_every_offset_and_alignment()
    {
        var random = new Random(6455);
        foreach (byte[] wireKey in WireKeys)
        {
            for (int length = 0; length <= 300; length++)
            {
                byte[] payload = RandomBytes(random, length);
                for (int keyOffset = 0; keyOffset < 4; keyOffset++)
                {
                    for (int misalignment = 0; misalignment < 4; misalignment++)
                    {
                        byte[] expected = (byte[])payload.Clone();
                        ReferenceMask(expected, wireKey, keyOffset);
                        byte[] buffer = Guarded(payload, misalignment);

                        int next = Masking.Apply(buffer.AsSpan(Guard + misalignment, length), KeyOf(wireKey), keyOffset);

                        Assert.Equal((keyOffset + length) & 3, next);
                        Assert.Equal(expected, buffer.AsSpan(Guard + misalignment, length).ToArray());
                        AssertGuardsIntact(buffer, misalignment, length);
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(64 * 1024)]
    [InlineData(64 * 1024 + 1)]
    [InlineData(1024 * 1024 + 3)]
    public void In_place_matches_reference_for_large_payloads(int length)
    {
        var random = new Random(length);
        byte[] payload = RandomBytes(random, length);
        byte[] wireKey = RandomBytes(random, 4);
        for (int keyOffset = 0; keyOffset < 4; keyOffset++)
        {
            int misalignment = keyOffset; // vary the start address as well
            byte[] expected = (byte[])payload.Clone();
            ReferenceMask(expected, wireKey, keyOffset);
            byte[] buffer = Guarded(payload, misalignment);

            int next = Masking.Apply(buffer.AsSpan(Guard + misalignment, length), KeyOf(wireKey), keyOffset);

            Assert.Equal((keyOffset + length) & 3, next);
            Assert.True(expected.AsSpan().SequenceEqual(buffer.AsSpan(Guard + misalignment, length)));
            AssertGuardsIntact(buffer, misalignment, length);
        }
    }

    [Theory]
    [InlineData(300)]
    [InlineData(64 * 1024)]
    [InlineData(1024 * 1024 + 3)]
    public void Chunked_in_place_equals_one_shot(int length)
    {
        var random = new Random(length + 1);
        byte[] payload = RandomBytes(random, length);
        uint key = (uint)random.Next() ^ ((uint)random.Next() << 16);
        for (int startOffset = 0; startOffset < 4; startOffset++)
        {
            byte[] oneShot = (byte[])payload.Clone();
            int expectedNext = Masking.Apply(oneShot, key, startOffset);

            // Chunk sizes from 0 up to a few vectors, so chunk boundaries land at every key phase and vector position.
            byte[] chunked = (byte[])payload.Clone();
            int keyOffset = startOffset;
            int position = 0;
            while (position < length)
            {
                int chunk = Math.Min(length - position, random.Next(0, 200));
                keyOffset = Masking.Apply(chunked.AsSpan(position, chunk), key, keyOffset);
                position += chunk;
            }

            Assert.Equal(expectedNext, keyOffset);
            Assert.True(oneShot.AsSpan().SequenceEqual(chunked));
        }
    }

    [Theory]
    [InlineData(300)]
    [InlineData(1024 * 1024 + 3)]
    public void Chunked_copy_equals_one_shot(int length)
    {
        var random = new Random(length + 2);
        byte[] payload = RandomBytes(random, length);
        uint key = 0xDEADBEEF;
        for (int startOffset = 0; startOffset < 4; startOffset++)
        {
            byte[] oneShot = new byte[length];
            int expectedNext = Masking.Apply(payload, oneShot, key, startOffset);

            byte[] chunked = new byte[length];
            int keyOffset = startOffset;
            int position = 0;
            while (position < length)
            {
                int chunk = Math.Min(length - position, random.Next(0, 200));
                keyOffset = Masking.Apply(payload.AsSpan(position, chunk), chunked.AsSpan(position), key, keyOffset);
                position += chunk;
            }

            Assert.Equal(expectedNext, keyOffset);
            Assert.True(oneShot.AsSpan().SequenceEqual(chunked));
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(255)]
    [InlineData(64 * 1024)]
    [InlineData(1024 * 1024 + 3)]
    public void Applying_twice_restores_the_data(int length)
    {
        var random = new Random(length + 3);
        byte[] original = RandomBytes(random, length);
        for (int keyOffset = 0; keyOffset < 4; keyOffset++)
        {
            byte[] data = (byte[])original.Clone();
            uint key = (uint)random.Next() | 0x01010101; // no zero key byte, so masking changes every byte

            Masking.Apply(data, key, keyOffset);
            if (length > 0)
            {
                Assert.False(original.AsSpan().SequenceEqual(data));
            }

            Masking.Apply(data, key, keyOffset);
            Assert.True(original.AsSpan().SequenceEqual(data));
        }
    }

    [Fact]
    public void Copy_equals_in_place_and_leaves_source_and_rest_of_destination_alone()
    {
        var random = new Random(42);
        foreach (byte[] wireKey in WireKeys)
        {
            foreach (int length in Enumerable.Range(0, 301).Concat([64 * 1024, 1024 * 1024 + 3]))
            {
                byte[] source = RandomBytes(random, length);
                byte[] sourceCopy = (byte[])source.Clone();
                for (int keyOffset = 0; keyOffset < 4; keyOffset++)
                {
                    int misalignment = (length + keyOffset) & 3;
                    byte[] inPlace = (byte[])source.Clone();
                    int inPlaceNext = Masking.Apply(inPlace, KeyOf(wireKey), keyOffset);

                    // Destination longer than the source: the payload goes to its start, the rest stays as it was.
                    byte[] destination = Guarded(new byte[length], misalignment);
                    destination.AsSpan(Guard + misalignment, length).Fill(GuardByte);
                    int copyNext = Masking.Apply(source, destination.AsSpan(Guard + misalignment), KeyOf(wireKey), keyOffset);

                    Assert.Equal(inPlaceNext, copyNext);
                    Assert.True(inPlace.AsSpan().SequenceEqual(destination.AsSpan(Guard + misalignment, length)));
                    AssertGuardsIntact(destination, misalignment, length);
                    Assert.True(sourceCopy.AsSpan().SequenceEqual(source));
                }
            }
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(4)]
    [InlineData(int.MinValue)]
    public void Key_offset_outside_0_to_3_is_rejected(int keyOffset)
    {
        byte[] data = new byte[8];
        Assert.Throws<ArgumentOutOfRangeException>(() => Masking.Apply(data, 1u, keyOffset));
        Assert.Throws<ArgumentOutOfRangeException>(() => Masking.Apply(data, new byte[8], 1u, keyOffset));
        Assert.Throws<ArgumentOutOfRangeException>(() => Masking.Apply(Span<byte>.Empty, 1u, keyOffset));
    }

    [Fact]
    public void Empty_payload_returns_the_same_offset()
    {
        for (int keyOffset = 0; keyOffset < 4; keyOffset++)
        {
            Assert.Equal(keyOffset, Masking.Apply(Span<byte>.Empty, 0x12345678, keyOffset));
            Assert.Equal(keyOffset, Masking.Apply(ReadOnlySpan<byte>.Empty, Span<byte>.Empty, 0x12345678, keyOffset));
        }
    }

    [Fact]
    public void Copy_rejects_a_short_destination()
    {
        byte[] source = new byte[10];
        byte[] destination = new byte[9];

        Assert.Throws<ArgumentException>(() => Masking.Apply(source, destination, 1u, 0));
        Assert.All(destination, b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(9)]
    public void Copy_rejects_overlapping_buffers(int destinationStart)
    {
        byte[] buffer = new byte[20];

        Assert.Throws<ArgumentException>(
            () => Masking.Apply(buffer.AsSpan(0, 10), buffer.AsSpan(destinationStart, 10), 0x01010101, 0));
        Assert.All(buffer, b => Assert.Equal(0, b));
    }
}
