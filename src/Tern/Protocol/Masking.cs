using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Tern.Protocol;

/// <summary>
/// WebSocket payload masking (RFC 6455 §5.3): each payload byte <c>i</c> is XORed with key byte <c>i mod 4</c>.
/// Masking and unmasking are the same operation.
/// </summary>
/// <remarks>
/// <para>
/// Key convention: <c>maskKey</c> holds the four key bytes in wire order as a little-endian number, i.e. key byte
/// <c>i</c> (the <c>i</c>-th byte on the wire) is <c>(byte)(maskKey &gt;&gt; (8 * i))</c>. Read it from a frame header
/// with <see cref="BinaryPrimitives.ReadUInt32LittleEndian(ReadOnlySpan{byte})"/> and write it with
/// <see cref="BinaryPrimitives.WriteUInt32LittleEndian(Span{byte}, uint)"/>.
/// </para>
/// <para>
/// Key offset: the index (0..3) of the key byte that applies to the first byte passed in. Each call returns the offset
/// for the byte after its last one, so a payload can be processed in chunks of any size by threading the returned
/// value into the next call, starting from 0 at the first payload byte.
/// </para>
/// </remarks>
public static class Masking
{
    /// <summary>XORs <paramref name="data"/> in place with the masking key.</summary>
    /// <param name="data">Payload bytes to mask or unmask.</param>
    /// <param name="maskKey">The key, key byte <c>i</c> = <c>(byte)(maskKey &gt;&gt; (8 * i))</c>.</param>
    /// <param name="keyOffset">Key byte index (0..3) for <c>data[0]</c>.</param>
    /// <returns>The key offset for the next byte: <c>(keyOffset + data.Length) &amp; 3</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="keyOffset"/> is not in 0..3.</exception>
    public static int Apply(Span<byte> data, uint maskKey, int keyOffset)
    {
        ThrowIfInvalidKeyOffset(keyOffset);
        ref byte start = ref MemoryMarshal.GetReference(data);
        Xor(ref start, ref start, (nuint)data.Length, BitOperations.RotateRight(maskKey, 8 * keyOffset));
        return (keyOffset + data.Length) & 3;
    }

    /// <summary>
    /// Writes <paramref name="source"/> XORed with the masking key to the start of <paramref name="destination"/>,
    /// e.g. to mask an outgoing payload straight into the send buffer.
    /// </summary>
    /// <param name="source">Payload bytes to mask or unmask; left unchanged.</param>
    /// <param name="destination">
    /// Receives <c>source.Length</c> bytes; must be at least that long and must not overlap <paramref name="source"/>.
    /// Bytes beyond <c>source.Length</c> are left unchanged.
    /// </param>
    /// <param name="maskKey">The key, key byte <c>i</c> = <c>(byte)(maskKey &gt;&gt; (8 * i))</c>.</param>
    /// <param name="keyOffset">Key byte index (0..3) for <c>source[0]</c>.</param>
    /// <returns>The key offset for the next byte: <c>(keyOffset + source.Length) &amp; 3</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="keyOffset"/> is not in 0..3.</exception>
    /// <exception cref="ArgumentException">
    /// <paramref name="destination"/> is shorter than <paramref name="source"/> or overlaps it.
    /// </exception>
    public static int Apply(ReadOnlySpan<byte> source, Span<byte> destination, uint maskKey, int keyOffset)
    {
        ThrowIfInvalidKeyOffset(keyOffset);
        if (destination.Length < source.Length)
        {
            throw new ArgumentException("Destination is shorter than source.", nameof(destination));
        }

        if (source.Overlaps(destination))
        {
            throw new ArgumentException("Source and destination overlap; use the in-place overload.", nameof(destination));
        }

        Xor(
            ref MemoryMarshal.GetReference(source),
            ref MemoryMarshal.GetReference(destination),
            (nuint)source.Length,
            BitOperations.RotateRight(maskKey, 8 * keyOffset));
        return (keyOffset + source.Length) & 3;
    }

    private static void ThrowIfInvalidKeyOffset(int keyOffset)
    {
        if ((uint)keyOffset > 3)
        {
            throw new ArgumentOutOfRangeException(nameof(keyOffset), keyOffset, "Key offset must be 0..3.");
        }
    }

    // destination[i] = source[i] ^ key byte (i & 3), where key byte j = (byte)(key >> 8j): the key is already rotated
    // so that byte 0 applies to the first byte. Every block size below is a multiple of 4, so the key pattern stays
    // in phase from block to block and only the final < 4 bytes need the per-byte key.
    private static void Xor(ref byte source, ref byte destination, nuint length, uint key)
    {
        // A number whose in-memory bytes are the key bytes in order, whatever the machine's endianness.
        uint keyInMemoryOrder = BitConverter.IsLittleEndian ? key : BinaryPrimitives.ReverseEndianness(key);
        nuint offset = 0;

        if (Vector512.IsHardwareAccelerated && length >= (nuint)Vector512<byte>.Count)
        {
            Vector512<byte> keyVector = Vector512.Create(keyInMemoryOrder).AsByte();
            nuint blockSize = (nuint)Vector512<byte>.Count;

            // Two vectors per iteration halves the loop overhead, which otherwise shows at L1/L2-resident sizes.
            for (; length - offset >= 2 * blockSize; offset += 2 * blockSize)
            {
                Vector512<byte> first = Vector512.LoadUnsafe(ref source, offset);
                Vector512<byte> second = Vector512.LoadUnsafe(ref source, offset + blockSize);
                (first ^ keyVector).StoreUnsafe(ref destination, offset);
                (second ^ keyVector).StoreUnsafe(ref destination, offset + blockSize);
            }

            if (length - offset >= blockSize)
            {
                (Vector512.LoadUnsafe(ref source, offset) ^ keyVector).StoreUnsafe(ref destination, offset);
                offset += blockSize;
            }
        }

        if (Vector256.IsHardwareAccelerated && length - offset >= (nuint)Vector256<byte>.Count)
        {
            Vector256<byte> keyVector = Vector256.Create(keyInMemoryOrder).AsByte();
            nuint blockSize = (nuint)Vector256<byte>.Count;
            for (; length - offset >= 2 * blockSize; offset += 2 * blockSize)
            {
                Vector256<byte> first = Vector256.LoadUnsafe(ref source, offset);
                Vector256<byte> second = Vector256.LoadUnsafe(ref source, offset + blockSize);
                (first ^ keyVector).StoreUnsafe(ref destination, offset);
                (second ^ keyVector).StoreUnsafe(ref destination, offset + blockSize);
            }

            if (length - offset >= blockSize)
            {
                (Vector256.LoadUnsafe(ref source, offset) ^ keyVector).StoreUnsafe(ref destination, offset);
                offset += blockSize;
            }
        }

        if (Vector128.IsHardwareAccelerated && length - offset >= (nuint)Vector128<byte>.Count)
        {
            Vector128<byte> keyVector = Vector128.Create(keyInMemoryOrder).AsByte();
            nuint blockSize = (nuint)Vector128<byte>.Count;
            for (; length - offset >= blockSize; offset += blockSize)
            {
                (Vector128.LoadUnsafe(ref source, offset) ^ keyVector).StoreUnsafe(ref destination, offset);
            }
        }

        ulong key64 = ((ulong)keyInMemoryOrder << 32) | keyInMemoryOrder;
        for (; length - offset >= sizeof(ulong); offset += sizeof(ulong))
        {
            ulong value = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref source, offset));
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, offset), value ^ key64);
        }

        if (length - offset >= sizeof(uint))
        {
            uint value = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref source, offset));
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, offset), value ^ keyInMemoryOrder);
            offset += sizeof(uint);
        }

        for (int keyByte = 0; offset < length; offset++, keyByte++)
        {
            Unsafe.Add(ref destination, offset) = (byte)(Unsafe.Add(ref source, offset) ^ (byte)(key >> (8 * keyByte)));
        }
    }
}
