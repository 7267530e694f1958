using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Unicode;
using Tern.Protocol;

namespace Tern.Tests.Protocol;

public class Utf8ValidatorTests
{
    // How a byte string fares when it is a whole text message.
    private enum Outcome
    {
        Valid,

        // Invalid, and TryValidate must return false at FailIndex when the bytes are fed one at a time.
        FailsFast,

        // Every byte is a valid prefix, but the message ends inside a sequence: only IsComplete reports it.
        EndsMidSequence,
    }

    private sealed record Case(byte[] Bytes, Outcome Outcome, int FailIndex = -1);

    private static byte[] Hex(string hex) =>
        [.. hex.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(h => byte.Parse(h, NumberStyles.HexNumber, CultureInfo.InvariantCulture))];

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    // "κόσμε" as in Kuhn's test and Autobahn, with U+1F79 (three bytes) for the ό: 11 bytes.
    private static readonly byte[] Kosme = Hex("CE BA E1 BD B9 CF 83 CE BC CE B5");
    private static readonly byte[] Edited = "edited"u8.ToArray();

    private static Case Valid(string hex) => new(Hex(hex), Outcome.Valid);
    private static Case FailsAt(int index, string hex) => new(Hex(hex), Outcome.FailsFast, index);
    private static Case EndsMidSequence(string hex) => new(Hex(hex), Outcome.EndsMidSequence);

    // The families of Markus Kuhn's UTF-8 decoder capability and stress test, as used by Autobahn TestSuite case 6.
    // The number is the index of the first byte after which the message can no longer be valid.
    private static readonly Dictionary<string, Case> Cases = BuildCases();

    private static Dictionary<string, Case> BuildCases()
    {
        var cases = new Dictionary<string, Case>
        {
            ["6.1 empty"] = new([], Outcome.Valid),
            ["6.2 Hello-µ@ßöäüàá-UTF-8!!"] = new("Hello-µ@ßöäüàá-UTF-8!!"u8.ToArray(), Outcome.Valid),
            ["6.3 kosme + surrogate + edited"] = new(Concat(Kosme, Hex("ED A0 80"), Edited), Outcome.FailsFast, 12),
            ["6.4 kosme + F4 90 80 80 + edited"] = new(Concat(Kosme, Hex("F4 90 80 80"), Edited), Outcome.FailsFast, 12),
            ["6.5 kosme"] = new(Kosme, Outcome.Valid),

            // 6.7 / 6.9: first and last possible sequence of each length.
            ["6.7 U+0000"] = Valid("00"),
            ["6.7 U+0080"] = Valid("C2 80"),
            ["6.7 U+0800"] = Valid("E0 A0 80"),
            ["6.7 U+10000"] = Valid("F0 90 80 80"),
            ["6.9 U+007F"] = Valid("7F"),
            ["6.9 U+07FF"] = Valid("DF BF"),
            ["6.9 U+FFFF"] = Valid("EF BF BF"),
            ["6.9 U+10FFFF"] = Valid("F4 8F BF BF"),

            // 6.8 / 6.10: five- and six-byte forms and the four-byte maximum are outside Unicode.
            ["6.8 first 5-byte"] = FailsAt(0, "F8 88 80 80 80"),
            ["6.8 first 6-byte"] = FailsAt(0, "FC 84 80 80 80 80"),
            ["6.10 last 4-byte (U+1FFFFF)"] = FailsAt(0, "F7 BF BF BF"),
            ["6.10 last 5-byte"] = FailsAt(0, "FB BF BF BF BF"),
            ["6.10 last 6-byte"] = FailsAt(0, "FD BF BF BF BF BF"),

            // 6.11: other boundary conditions.
            ["6.11 U+D7FF"] = Valid("ED 9F BF"),
            ["6.11 U+E000"] = Valid("EE 80 80"),
            ["6.11 U+FFFD"] = Valid("EF BF BD"),
            ["6.11 U+10FFFF"] = Valid("F4 8F BF BF"),
            ["6.11 U+110000"] = FailsAt(1, "F4 90 80 80"),

            // 6.12: unexpected continuation bytes.
            ["6.12 80"] = FailsAt(0, "80"),
            ["6.12 BF"] = FailsAt(0, "BF"),
            ["6.12 80 BF"] = FailsAt(0, "80 BF"),
            ["6.12 80 BF 80"] = FailsAt(0, "80 BF 80"),
            ["6.12 80 BF 80 BF"] = FailsAt(0, "80 BF 80 BF"),
            ["6.12 80 BF 80 BF 80"] = FailsAt(0, "80 BF 80 BF 80"),
            ["6.12 80 BF 80 BF 80 BF"] = FailsAt(0, "80 BF 80 BF 80 BF"),
            ["6.12 80 BF 80 BF 80 BF 80"] = FailsAt(0, "80 BF 80 BF 80 BF 80"),
            ["6.12 all continuation bytes"] = new([.. Enumerable.Range(0x80, 64).Select(b => (byte)b)], Outcome.FailsFast, 0),
            ["6.12 continuation after ASCII"] = FailsAt(3, "61 62 63 80"),
            ["6.12 continuation after complete 2-byte"] = FailsAt(2, "C2 80 80"),
            ["6.12 fifth byte after 4-byte"] = FailsAt(4, "F0 90 80 80 80"),

            // 6.13: lonely start bytes, each followed by a space.
            ["6.13 C0..DF each + space"] = new(LonelyStarts(0xC0, 0xDF), Outcome.FailsFast, 0),
            ["6.13 E0..EF each + space"] = new(LonelyStarts(0xE0, 0xEF), Outcome.FailsFast, 1),
            ["6.13 F0..F7 each + space"] = new(LonelyStarts(0xF0, 0xF7), Outcome.FailsFast, 1),
            ["6.13 F8..FB each + space"] = new(LonelyStarts(0xF8, 0xFB), Outcome.FailsFast, 0),
            ["6.13 FC..FD each + space"] = new(LonelyStarts(0xFC, 0xFD), Outcome.FailsFast, 0),

            // 6.14: sequences with the last continuation byte missing.
            ["6.14 C0"] = FailsAt(0, "C0"),
            ["6.14 E0 80"] = FailsAt(1, "E0 80"),
            ["6.14 F0 80 80"] = FailsAt(1, "F0 80 80"),
            ["6.14 F8 80 80 80"] = FailsAt(0, "F8 80 80 80"),
            ["6.14 FC 80 80 80 80"] = FailsAt(0, "FC 80 80 80 80"),
            ["6.14 DF"] = EndsMidSequence("DF"),
            ["6.14 EF BF"] = EndsMidSequence("EF BF"),
            ["6.14 F7 BF BF"] = FailsAt(0, "F7 BF BF"),
            ["6.14 FB BF BF BF"] = FailsAt(0, "FB BF BF BF"),
            ["6.14 FD BF BF BF BF"] = FailsAt(0, "FD BF BF BF BF"),
            ["truncated C2"] = EndsMidSequence("C2"),
            ["truncated E0 A0"] = EndsMidSequence("E0 A0"),
            ["truncated ED 9F"] = EndsMidSequence("ED 9F"),
            ["truncated F0 90 80"] = EndsMidSequence("F0 90 80"),
            ["truncated F4 8F BF"] = EndsMidSequence("F4 8F BF"),
            ["truncated F4"] = EndsMidSequence("F4"),
            ["kosme + truncated F4 8F"] = new(Concat(Kosme, Hex("F4 8F")), Outcome.EndsMidSequence),
            ["truncated sequence followed by ASCII"] = FailsAt(2, "E1 80 41"),
            ["truncated sequence followed by a lead byte"] = FailsAt(1, "C2 C2 80"),

            // 6.15: all of 6.14 concatenated.
            ["6.15 concatenation"] = FailsAt(0, "C0 E0 80 F0 80 80 F8 80 80 80 FC 80 80 80 80 DF EF BF F7 BF BF FB BF BF BF FD BF BF BF BF"),

            // 6.16: impossible bytes.
            ["6.16 FE"] = FailsAt(0, "FE"),
            ["6.16 FF"] = FailsAt(0, "FF"),
            ["6.16 FE FE FF FF"] = FailsAt(0, "FE FE FF FF"),
            ["6.16 ASCII + FF"] = FailsAt(2, "41 42 FF 43"),

            // 6.17: overlong encodings of '/'.
            ["6.17 C0 AF"] = FailsAt(0, "C0 AF"),
            ["6.17 E0 80 AF"] = FailsAt(1, "E0 80 AF"),
            ["6.17 F0 80 80 AF"] = FailsAt(1, "F0 80 80 AF"),
            ["6.17 F8 80 80 80 AF"] = FailsAt(0, "F8 80 80 80 AF"),
            ["6.17 FC 80 80 80 80 AF"] = FailsAt(0, "FC 80 80 80 80 AF"),

            // 6.18: maximum overlong sequences.
            ["6.18 C1 BF"] = FailsAt(0, "C1 BF"),
            ["6.18 E0 9F BF"] = FailsAt(1, "E0 9F BF"),
            ["6.18 F0 8F BF BF"] = FailsAt(1, "F0 8F BF BF"),
            ["6.18 F8 87 BF BF BF"] = FailsAt(0, "F8 87 BF BF BF"),
            ["6.18 FC 83 BF BF BF BF"] = FailsAt(0, "FC 83 BF BF BF BF"),

            // 6.19: overlong NUL.
            ["6.19 C0 80"] = FailsAt(0, "C0 80"),
            ["6.19 E0 80 80"] = FailsAt(1, "E0 80 80"),
            ["6.19 F0 80 80 80"] = FailsAt(1, "F0 80 80 80"),
            ["6.19 F8 80 80 80 80"] = FailsAt(0, "F8 80 80 80 80"),
            ["6.19 FC 80 80 80 80 80"] = FailsAt(0, "FC 80 80 80 80 80"),

            // 6.20: single UTF-16 surrogates.
            ["6.20 U+D800"] = FailsAt(1, "ED A0 80"),
            ["6.20 U+DB7F"] = FailsAt(1, "ED AD BF"),
            ["6.20 U+DB80"] = FailsAt(1, "ED AE 80"),
            ["6.20 U+DBFF"] = FailsAt(1, "ED AF BF"),
            ["6.20 U+DC00"] = FailsAt(1, "ED B0 80"),
            ["6.20 U+DF80"] = FailsAt(1, "ED BE 80"),
            ["6.20 U+DFFF"] = FailsAt(1, "ED BF BF"),

            // 6.21: paired UTF-16 surrogates.
            ["6.21 U+D800 U+DC00"] = FailsAt(1, "ED A0 80 ED B0 80"),
            ["6.21 U+D800 U+DFFF"] = FailsAt(1, "ED A0 80 ED BF BF"),
            ["6.21 U+DB7F U+DC00"] = FailsAt(1, "ED AD BF ED B0 80"),
            ["6.21 U+DB7F U+DFFF"] = FailsAt(1, "ED AD BF ED BF BF"),
            ["6.21 U+DB80 U+DC00"] = FailsAt(1, "ED AE 80 ED B0 80"),
            ["6.21 U+DB80 U+DFFF"] = FailsAt(1, "ED AE 80 ED BF BF"),
            ["6.21 U+DBFF U+DC00"] = FailsAt(1, "ED AF BF ED B0 80"),
            ["6.21 U+DBFF U+DFFF"] = FailsAt(1, "ED AF BF ED BF BF"),

            // 6.22 / 6.23: non-characters and the replacement character are valid.
            ["6.22 U+FFFE"] = Valid("EF BF BE"),
            ["6.22 U+FFFF"] = Valid("EF BF BF"),
            ["6.22 U+FDD0..U+FDEF"] = new(Encode(Enumerable.Range(0xFDD0, 32)), Outcome.Valid),
            ["6.23 U+FFFD"] = Valid("EF BF BD"),
            ["6.23 kosme + U+FFFD + edited"] = new(Concat(Kosme, Hex("EF BF BD"), Edited), Outcome.Valid),
        };

        for (int plane = 1; plane <= 16; plane++)
        {
            int lastOfPlane = (plane << 16) | 0xFFFF;
            cases[$"6.22 U+{lastOfPlane - 1:X}"] = new(Encode([lastOfPlane - 1]), Outcome.Valid);
            cases[$"6.22 U+{lastOfPlane:X}"] = new(Encode([lastOfPlane]), Outcome.Valid);
        }

        // 6.6: kosme fed as growing prefixes; a prefix that ends inside a character is only incomplete.
        for (int length = 1; length <= Kosme.Length; length++)
        {
            byte[] prefix = Kosme[..length];
            bool endsOnBoundary = length == Kosme.Length || (Kosme[length] & 0xC0) != 0x80;
            cases[$"6.6 kosme[..{length}]"] = new(prefix, endsOnBoundary ? Outcome.Valid : Outcome.EndsMidSequence);
        }

        return cases;
    }

    private static byte[] LonelyStarts(int first, int last) =>
        [.. Enumerable.Range(first, last - first + 1).SelectMany(b => new[] { (byte)b, (byte)0x20 })];

    private static byte[] Encode(IEnumerable<int> scalars)
    {
        var bytes = new List<byte>();
        Span<byte> buffer = stackalloc byte[4];
        foreach (int scalar in scalars)
        {
            int written = new Rune(scalar).EncodeToUtf8(buffer);
            bytes.AddRange(buffer[..written].ToArray());
        }

        return [.. bytes];
    }

    public static TheoryData<string> ValidCaseNames => Names(Outcome.Valid);
    public static TheoryData<string> FailFastCaseNames => Names(Outcome.FailsFast);
    public static TheoryData<string> EndsMidSequenceCaseNames => Names(Outcome.EndsMidSequence);

    private static TheoryData<string> Names(Outcome outcome) =>
        [.. Cases.Where(c => c.Value.Outcome == outcome).Select(c => c.Key)];

    // Feeds `bytes` in the given chunks to a fresh validator. Returns the index of the first chunk for which
    // TryValidate returned false (-1 if none) and IsComplete at the end; asserts that failure is sticky.
    private static (int FirstFailingChunk, bool IsComplete) Feed(byte[] bytes, IReadOnlyList<int> chunkLengths)
    {
        var validator = new Utf8Validator();
        int firstFailingChunk = -1;
        int position = 0;
        for (int chunk = 0; chunk < chunkLengths.Count; chunk++)
        {
            bool ok = validator.TryValidate(bytes.AsSpan(position, chunkLengths[chunk]));
            position += chunkLengths[chunk];
            if (firstFailingChunk >= 0)
            {
                Assert.False(ok, "TryValidate returned true after it had failed");
            }
            else if (!ok)
            {
                firstFailingChunk = chunk;
            }
        }

        Assert.Equal(bytes.Length, position);
        if (firstFailingChunk >= 0)
        {
            Assert.False(validator.IsComplete);
        }

        return (firstFailingChunk, validator.IsComplete);
    }

    private static int[] ByteByByte(int length) => Enumerable.Repeat(1, length).ToArray();

    // Every way to cut `length` bytes into two chunks and, for short inputs, into three (chunks may be empty).
    private static IEnumerable<int[]> Splits(int length)
    {
        for (int first = 0; first <= length; first++)
        {
            yield return [first, length - first];
            if (length <= 24)
            {
                for (int second = 0; first + second <= length; second++)
                {
                    yield return [first, second, length - first - second];
                }
            }
        }
    }

    // Which chunk holds byte `index`, ignoring empty chunks.
    private static int ChunkContaining(IReadOnlyList<int> chunkLengths, int index)
    {
        int end = 0;
        for (int chunk = 0; chunk < chunkLengths.Count; chunk++)
        {
            end += chunkLengths[chunk];
            if (index < end)
            {
                return chunk;
            }
        }

        throw new ArgumentOutOfRangeException(nameof(index));
    }

    [Theory]
    [MemberData(nameof(ValidCaseNames))]
    public void Valid_case_is_valid_whole_byte_by_byte_and_at_every_split(string name)
    {
        byte[] bytes = Cases[name].Bytes;

        Assert.Equal((-1, true), Feed(bytes, [bytes.Length]));
        Assert.Equal((-1, true), Feed(bytes, ByteByByte(bytes.Length)));
        foreach (int[] split in Splits(bytes.Length))
        {
            Assert.Equal((-1, true), Feed(bytes, split));
        }
    }

    [Theory]
    [MemberData(nameof(FailFastCaseNames))]
    public void Fail_fast_case_fails_at_the_exact_byte(string name)
    {
        Case @case = Cases[name];
        byte[] bytes = @case.Bytes;

        Assert.Equal((0, false), Feed(bytes, [bytes.Length]));
        Assert.Equal((@case.FailIndex, false), Feed(bytes, ByteByByte(bytes.Length)));
        foreach (int[] split in Splits(bytes.Length))
        {
            // The call that delivers the offending byte fails, whatever came before it in the same chunk.
            Assert.Equal((ChunkContaining(split, @case.FailIndex), false), Feed(bytes, split));
        }
    }

    [Theory]
    [MemberData(nameof(EndsMidSequenceCaseNames))]
    public void Message_ending_mid_sequence_is_only_reported_by_IsComplete(string name)
    {
        byte[] bytes = Cases[name].Bytes;

        Assert.Equal((-1, false), Feed(bytes, [bytes.Length]));
        Assert.Equal((-1, false), Feed(bytes, ByteByByte(bytes.Length)));
        foreach (int[] split in Splits(bytes.Length))
        {
            Assert.Equal((-1, false), Feed(bytes, split));
        }
    }

    [Fact]
    public void Known_cases_agree_with_the_reference_decoder()
    {
        // Guards the hand-written table against typos: the framework decoder must agree on validity and fail index.
        foreach ((string name, Case @case) in Cases)
        {
            Assert.True(IsValidReference(@case.Bytes) == (@case.Outcome == Outcome.Valid), name);
            Assert.True(ReferenceFailIndex(@case.Bytes) == @case.FailIndex, name);
        }
    }

    [Fact]
    public void Default_validator_is_complete_and_accepts_empty_input()
    {
        var validator = default(Utf8Validator);
        Assert.True(validator.IsComplete);
        Assert.True(validator.TryValidate([]));
        Assert.True(validator.IsComplete);
    }

    [Fact]
    public void Failure_is_sticky_until_Reset()
    {
        var validator = new Utf8Validator();
        Assert.False(validator.TryValidate(Hex("41 FF")));
        Assert.False(validator.TryValidate("plain ascii"u8));
        Assert.False(validator.TryValidate([]));
        Assert.False(validator.IsComplete);

        validator.Reset();

        Assert.True(validator.IsComplete);
        Assert.True(validator.TryValidate("plain ascii"u8));
        Assert.True(validator.IsComplete);
    }

    [Fact]
    public void Reset_discards_a_pending_sequence()
    {
        var validator = new Utf8Validator();
        Assert.True(validator.TryValidate(Hex("F0 90")));
        Assert.False(validator.IsComplete);

        validator.Reset();

        Assert.True(validator.IsComplete);
        Assert.False(validator.TryValidate(Hex("80")), "a continuation byte must not continue the discarded sequence");
    }

    [Fact]
    public void Pending_sequence_carries_across_empty_and_multiple_calls()
    {
        var validator = new Utf8Validator();
        Assert.True(validator.TryValidate(Hex("41 F0")));
        Assert.True(validator.TryValidate([]));
        Assert.True(validator.TryValidate(Hex("9F")));
        Assert.True(validator.TryValidate([]));
        Assert.False(validator.IsComplete);
        Assert.True(validator.TryValidate(Hex("98 80 42")));
        Assert.True(validator.IsComplete);
    }

    [Fact]
    public void Every_scalar_value_is_valid_alone_and_byte_by_byte()
    {
        Span<byte> buffer = stackalloc byte[4];
        for (int scalar = 0; scalar <= 0x10FFFF; scalar++)
        {
            if (scalar is >= 0xD800 and <= 0xDFFF)
            {
                continue;
            }

            int length = new Rune(scalar).EncodeToUtf8(buffer);

            var whole = new Utf8Validator();
            Assert.True(whole.TryValidate(buffer[..length]));
            Assert.True(whole.IsComplete);

            var byteWise = new Utf8Validator();
            for (int i = 0; i < length; i++)
            {
                Assert.True(byteWise.TryValidate(buffer.Slice(i, 1)));
                Assert.Equal(i == length - 1, byteWise.IsComplete);
            }
        }
    }

    [Fact]
    public void All_scalar_values_in_one_buffer_are_valid_in_odd_chunks()
    {
        byte[] all = Encode(Enumerable.Range(0, 0x110000).Where(s => s is < 0xD800 or > 0xDFFF));
        var validator = new Utf8Validator();
        int position = 0;
        int chunk = 1;
        while (position < all.Length)
        {
            int length = Math.Min(chunk, all.Length - position);
            Assert.True(validator.TryValidate(all.AsSpan(position, length)), $"at {position}");
            position += length;
            chunk = chunk * 7 % 1013; // wanders over 1..1012, cutting sequences at every offset
        }

        Assert.True(validator.IsComplete);
    }

    [Fact]
    public void Every_surrogate_overlong_and_out_of_range_encoding_fails_at_its_first_bad_byte()
    {
        for (int second = 0x80; second <= 0xBF; second++)
        {
            for (int third = 0x80; third <= 0xBF; third++)
            {
                // Three-byte forms: E0 80..9F is overlong, ED A0..BF encodes a surrogate.
                AssertFailsAt(second < 0xA0 ? 1 : -1, [0xE0, (byte)second, (byte)third]);
                AssertFailsAt(second >= 0xA0 ? 1 : -1, [0xED, (byte)second, (byte)third]);

                // Four-byte forms: F0 80..8F is overlong, F4 90..BF is above U+10FFFF, F5..F7 always are.
                AssertFailsAt(second < 0x90 ? 1 : -1, [0xF0, (byte)second, (byte)third, 0x80]);
                AssertFailsAt(second >= 0x90 ? 1 : -1, [0xF4, (byte)second, (byte)third, 0xBF]);
                for (int lead = 0xF5; lead <= 0xF7; lead++)
                {
                    AssertFailsAt(0, [(byte)lead, (byte)second, (byte)third, 0x80]);
                }
            }

            AssertFailsAt(0, [0xC0, (byte)second]);
            AssertFailsAt(0, [0xC1, (byte)second]);
        }

        static void AssertFailsAt(int index, byte[] bytes)
        {
            (int failingChunk, bool complete) = Feed(bytes, ByteByByte(bytes.Length));
            Assert.Equal(index, failingChunk);
            Assert.Equal(index < 0, complete);
        }
    }

    [Fact]
    public void Every_one_and_two_byte_string_matches_the_reference()
    {
        var oneByteFail = new int[256];
        for (int a = 0; a < 256; a++)
        {
            byte[] bytes = [(byte)a];
            oneByteFail[a] = ReferenceFailIndex(bytes);
            Assert.Equal((oneByteFail[a] < 0 ? -1 : 0, IsValidReference(bytes)), Feed(bytes, [1]));
        }

        for (int a = 0; a < 256; a++)
        {
            for (int b = 0; b < 256; b++)
            {
                byte[] bytes = [(byte)a, (byte)b];
                int expectedFail = oneByteFail[a] >= 0 ? 0 : ReferenceFailIndex(bytes);
                bool expectedValid = expectedFail < 0 && IsValidReference(bytes);

                Assert.Equal((expectedFail, expectedValid), Feed(bytes, [1, 1]));
                Assert.Equal((expectedFail < 0 ? -1 : 0, expectedValid), Feed(bytes, [2]));
            }
        }
    }

    [Fact]
    public void Random_messages_in_random_chunks_match_the_reference()
    {
        var random = new Random(20240607);
        int validCount = 0;
        int failFastCount = 0;
        for (int iteration = 0; iteration < 4000; iteration++)
        {
            byte[] bytes = RandomMessage(random);
            int expectedFailIndex = ReferenceFailIndex(bytes);
            bool expectedValid = IsValidReference(bytes);
            validCount += expectedValid ? 1 : 0;
            failFastCount += expectedFailIndex >= 0 ? 1 : 0;

            var chunks = new List<int>();
            for (int remaining = bytes.Length; remaining > 0 || random.Next(4) == 0;)
            {
                // Mostly short chunks, sometimes empty ones, sometimes one long run.
                int chunk = random.Next(3) == 0 ? random.Next(remaining + 1) : Math.Min(remaining, random.Next(0, 6));
                chunks.Add(chunk);
                remaining -= chunk;
            }

            int expectedFailingChunk = expectedFailIndex < 0 ? -1 : ChunkContaining(chunks, expectedFailIndex);
            Assert.Equal((expectedFailingChunk, expectedValid), Feed(bytes, chunks));
            Assert.Equal((expectedFailIndex, expectedValid), Feed(bytes, ByteByByte(bytes.Length)));
        }

        // The generator must exercise all three outcomes in earnest, or the comparison proves little.
        Assert.InRange(validCount, 1000, 3000);
        Assert.InRange(failFastCount, 1000, 3000);
        Assert.InRange(4000 - validCount - failFastCount, 100, 3000);
    }

    [Fact]
    public void Long_text_split_at_every_position_is_valid()
    {
        string text = string.Concat(Enumerable.Repeat("ASCII run, then κόσμε, 日本語, 🦀🎉 and \U0010FFFF\uFFFE. ", 40));
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        for (int split = 0; split <= bytes.Length; split++)
        {
            Assert.Equal((-1, true), Feed(bytes, [split, bytes.Length - split]));
        }
    }

    [Fact]
    public void Invalid_byte_deep_inside_a_long_chunk_fails_that_chunk()
    {
        byte[] bytes = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("abcdefgh κόσμε ", 500)));
        int bad = bytes.Length / 2;
        while ((bytes[bad] & 0xC0) == 0x80)
        {
            bad++;
        }

        bytes[bad] = 0xC0;

        Assert.Equal((0, false), Feed(bytes, [bytes.Length]));
        Assert.Equal((1, false), Feed(bytes, [bad - 1, 200, bytes.Length - bad - 199]));
        Assert.Equal((bad, false), Feed(bytes, ByteByByte(bytes.Length)));
    }

    // Builds a message from valid pieces, with an occasional corruption, so that valid, fail-fast and
    // ends-mid-sequence messages all occur often.
    private static byte[] RandomMessage(Random random)
    {
        var bytes = new List<byte>();
        Span<byte> buffer = stackalloc byte[4];
        int pieces = random.Next(0, 12);
        for (int piece = 0; piece < pieces; piece++)
        {
            switch (random.Next(20))
            {
                case < 4:
                    for (int n = random.Next(0, 40); n > 0; n--)
                    {
                        bytes.Add((byte)random.Next(0x20, 0x7F));
                    }

                    break;
                case < 14:
                    int length = new Rune(RandomScalar(random)).EncodeToUtf8(buffer);
                    bytes.AddRange(buffer[..length].ToArray());
                    break;
                case 14:
                    bytes.Add((byte)random.Next(0x80, 0x100)); // stray non-ASCII byte
                    break;
                case 15:
                    bytes.AddRange([0xED, (byte)random.Next(0x80, 0xC0), (byte)random.Next(0x80, 0xC0)]); // maybe a surrogate
                    break;
                case 16:
                    bytes.AddRange([(byte)random.Next(0xC0, 0xC2), (byte)random.Next(0x80, 0xC0)]); // overlong
                    break;
                case 17:
                    bytes.AddRange([(byte)random.Next(0xF0, 0xF8), (byte)random.Next(0x80, 0xC0), 0x80, 0x80]); // maybe out of range
                    break;
                default:
                    int full = new Rune(RandomScalar(random, minimum: 0x80)).EncodeToUtf8(buffer);
                    bytes.AddRange(buffer[..random.Next(1, full)].ToArray()); // truncated
                    break;
            }
        }

        // End mid-sequence about a sixth of the time.
        if (random.Next(6) == 0)
        {
            int full = new Rune(RandomScalar(random, minimum: 0x80)).EncodeToUtf8(buffer);
            bytes.AddRange(buffer[..random.Next(1, full)].ToArray());
        }

        return [.. bytes];
    }

    private static int RandomScalar(Random random, int minimum = 0)
    {
        int[] boundaries = [0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFE, 0xFFFF, 0x10000, 0x10FFFF];
        while (true)
        {
            int scalar = random.Next(4) switch
            {
                0 => boundaries[random.Next(boundaries.Length)],
                1 => random.Next(0x80, 0x800),
                2 => random.Next(0x800, 0x10000),
                _ => random.Next(0x10000, 0x110000),
            };
            if (scalar >= minimum && Rune.IsValid(scalar))
            {
                return scalar;
            }
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static bool IsValidReference(byte[] bytes)
    {
        try
        {
            StrictUtf8.GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    // Index of the first byte after which no continuation can make the bytes valid UTF-8, or -1. Defined from the
    // framework decoder alone: a prefix is still viable if it, or it followed by a few continuation bytes, decodes.
    private static int ReferenceFailIndex(byte[] bytes)
    {
        if (IsViablePrefix(bytes))
        {
            return -1;
        }

        // Viability only ever goes from true to false as a prefix grows, so binary search for the first failure.
        int low = 0;
        int high = bytes.Length - 1;
        while (low < high)
        {
            int middle = (low + high) / 2;
            if (IsViablePrefix(bytes.AsSpan(0, middle + 1)))
            {
                low = middle + 1;
            }
            else
            {
                high = middle;
            }
        }

        return low;
    }

    private static bool IsViablePrefix(ReadOnlySpan<byte> prefix)
    {
        if (DecodesCompletely(prefix))
        {
            return true;
        }

        // A cut-off sequence needs at most three more bytes; only the first may be range-restricted (after E0, ED,
        // F0, F4), later ones accept any continuation byte.
        byte[] extended = new byte[prefix.Length + 3];
        prefix.CopyTo(extended);
        for (int missing = 1; missing <= 3; missing++)
        {
            for (int next = 0x80; next <= 0xBF; next++)
            {
                extended[prefix.Length] = (byte)next;
                extended.AsSpan(prefix.Length + 1, missing - 1).Fill(0x80);
                if (DecodesCompletely(extended.AsSpan(0, prefix.Length + missing)))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool DecodesCompletely(ReadOnlySpan<byte> bytes)
    {
        char[] chars = ArrayPool<char>.Shared.Rent(bytes.Length + 1);
        try
        {
            return Utf8.ToUtf16(bytes, chars, out _, out _, replaceInvalidSequences: false, isFinalBlock: true)
                == OperationStatus.Done;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
    }
}
