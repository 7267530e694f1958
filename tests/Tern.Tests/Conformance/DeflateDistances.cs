namespace Tern.Tests.Conformance;

/// <summary>
/// Reads deflate data (RFC 1951) without inflating it, to find the one thing an inflater with a 32 KiB window cannot
/// check: how far back the data refers. A server that agreed to server_max_window_bits=N must never use a distance
/// over 2^N (RFC 7692 §7.1.2.1), which DeflateStream would decode without complaint.
/// </summary>
internal static class DeflateDistances
{
    private static readonly int[] LengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
    private static readonly int[] LengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
    private static readonly int[] DistanceBase = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
    private static readonly int[] DistanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
    private static readonly int[] CodeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

    private static readonly Huffman FixedLiterals = new([.. Enumerable.Repeat(8, 144), .. Enumerable.Repeat(9, 112), .. Enumerable.Repeat(7, 24), .. Enumerable.Repeat(8, 8)]);
    private static readonly Huffman FixedDistances = new([.. Enumerable.Repeat(5, 30)]);

    /// <summary>The largest back-reference distance in <paramref name="data"/>, a sequence of whole deflate blocks (0 if none).</summary>
    public static int Max(byte[] data)
    {
        var bits = new BitReader(data);
        int max = 0;
        while (!bits.AtEnd)
        {
            bool final = bits.Read(1) == 1;
            switch (bits.Read(2))
            {
                case 0:
                    bits.SkipStoredBlock();
                    break;
                case 1:
                    max = Math.Max(max, MaxInBlock(bits, FixedLiterals, FixedDistances));
                    break;
                case 2:
                    (Huffman literals, Huffman distances) = ReadDynamicTables(bits);
                    max = Math.Max(max, MaxInBlock(bits, literals, distances));
                    break;
                default:
                    throw new InvalidDataException("Block type 3 is reserved.");
            }

            if (final)
            {
                break;
            }
        }

        return max;
    }

    private static int MaxInBlock(BitReader bits, Huffman literals, Huffman distances)
    {
        int max = 0;
        while (true)
        {
            int symbol = literals.Decode(bits);
            if (symbol < 256)
            {
                continue;
            }

            if (symbol == 256)
            {
                return max;
            }

            symbol -= 257;
            if (symbol >= LengthBase.Length)
            {
                throw new InvalidDataException($"Length code {symbol + 257} is invalid.");
            }

            bits.Read(LengthExtra[symbol]);
            int distanceCode = distances.Decode(bits);
            if (distanceCode >= DistanceBase.Length)
            {
                throw new InvalidDataException($"Distance code {distanceCode} is invalid.");
            }

            max = Math.Max(max, DistanceBase[distanceCode] + bits.Read(DistanceExtra[distanceCode]));
        }
    }

    private static (Huffman Literals, Huffman Distances) ReadDynamicTables(BitReader bits)
    {
        int literalCount = bits.Read(5) + 257, distanceCount = bits.Read(5) + 1, codeLengthCount = bits.Read(4) + 4;
        var codeLengthLengths = new int[19];
        for (int i = 0; i < codeLengthCount; i++)
        {
            codeLengthLengths[CodeLengthOrder[i]] = bits.Read(3);
        }

        var codeLengths = new Huffman(codeLengthLengths);
        var lengths = new int[literalCount + distanceCount];
        for (int i = 0; i < lengths.Length;)
        {
            int symbol = codeLengths.Decode(bits);
            (int value, int repeat) = symbol switch
            {
                < 16 => (symbol, 1),
                16 when i > 0 => (lengths[i - 1], 3 + bits.Read(2)),
                16 => throw new InvalidDataException("A repeat with no length before it."),
                17 => (0, 3 + bits.Read(3)),
                _ => (0, 11 + bits.Read(7)),
            };
            if (i + repeat > lengths.Length)
            {
                throw new InvalidDataException("Code lengths overrun the table.");
            }

            lengths.AsSpan(i, repeat).Fill(value);
            i += repeat;
        }

        return (new Huffman(lengths[..literalCount]), new Huffman(lengths[literalCount..]));
    }

    /// <summary>A canonical Huffman code decoded a bit at a time (as in zlib's puff.c): slow, short, enough here.</summary>
    private sealed class Huffman
    {
        private readonly int[] _counts = new int[16];
        private readonly int[] _symbols;

        public Huffman(int[] lengths)
        {
            foreach (int length in lengths)
            {
                _counts[length]++;
            }

            _counts[0] = 0;
            var offsets = new int[16];
            for (int length = 1; length < 15; length++)
            {
                offsets[length + 1] = offsets[length] + _counts[length];
            }

            _symbols = new int[lengths.Length];
            for (int symbol = 0; symbol < lengths.Length; symbol++)
            {
                if (lengths[symbol] != 0)
                {
                    _symbols[offsets[lengths[symbol]]++] = symbol;
                }
            }
        }

        public int Decode(BitReader bits)
        {
            int code = 0, first = 0, index = 0;
            for (int length = 1; length < 16; length++)
            {
                code |= bits.Read(1);
                int count = _counts[length];
                if (code - count < first)
                {
                    return _symbols[index + (code - first)];
                }

                index += count;
                first = (first + count) << 1;
                code <<= 1;
            }

            throw new InvalidDataException("No Huffman code matches.");
        }
    }

    private sealed class BitReader(byte[] data)
    {
        private long _position;

        public bool AtEnd => _position >= data.Length * 8L;

        public int Read(int count)
        {
            int value = 0;
            for (int i = 0; i < count; i++, _position++)
            {
                if (AtEnd)
                {
                    throw new InvalidDataException("The data ends inside a block.");
                }

                value |= ((data[_position >> 3] >> (int)(_position & 7)) & 1) << i;
            }

            return value;
        }

        public void SkipStoredBlock()
        {
            _position = (_position + 7) / 8 * 8;
            int length = Read(16);
            if ((length ^ 0xFFFF) != Read(16))
            {
                throw new InvalidDataException("A stored block's NLEN is not the complement of its LEN.");
            }

            _position += length * 8L;
        }
    }
}
