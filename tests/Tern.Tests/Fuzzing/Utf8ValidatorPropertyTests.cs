using System.Text;
using Xunit.Abstractions;

namespace Tern.Tests.Fuzzing;

/// <summary>
/// Differential tests of <see cref="Tern.Protocol.Utf8Validator"/> against the framework: valid exactly when a strict
/// <see cref="UTF8Encoding"/> accepts, failing in the call that delivers the first byte no continuation can save
/// (located with the framework's transcoder), whether fed whole, byte by byte or in random pieces.
/// </summary>
public class Utf8ValidatorPropertyTests(ITestOutputHelper output)
{
    private static void CheckAllWays(Random random, byte[] data)
    {
        bool whole = Drivers.CheckUtf8Validator(data, [data.Length]);
        Drivers.Expect(Drivers.CheckUtf8Validator(data, Enumerable.Repeat(1, data.Length)) == whole, "byte by byte differs");
        Drivers.Expect(Drivers.CheckUtf8Validator(data, Drivers.ChopPlan(random, data.Length, random.Next(1, 4))) == whole, "chopped differs");
    }

    [Fact]
    public void Valid_text_is_accepted_however_chopped()
    {
        Property.ForAll(output, "valid UTF-8", 3000, random =>
        {
            byte[] data = Encoding.UTF8.GetBytes(Generators.Text(random, 60));
            Drivers.Expect(Drivers.CheckUtf8Validator(data, [data.Length]), "valid text rejected");
            CheckAllWays(random, data);
        });
    }

    [Fact]
    public void Mutated_text_matches_the_strict_decoder_and_fails_at_the_first_impossible_byte()
    {
        byte[][] bad = [[0xC0, 0xAF], [0xC1], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5], [0xFF], [0xE0, 0x80], [0xF0, 0x80], [0x80], [0xBF], [0xE2, 0x82], [0xF0, 0x9F, 0x98]];
        Property.ForAll(output, "mutated UTF-8", 4000, random =>
        {
            var bytes = new List<byte>(Encoding.UTF8.GetBytes(Generators.Text(random, 30)));
            int edits = random.Next(1, 4);
            for (int e = 0; e < edits; e++)
            {
                if (random.Next(3) == 0)
                {
                    bytes.InsertRange(random.Next(bytes.Count + 1), bad[random.Next(bad.Length)]);
                }
                else
                {
                    Generators.MutateBytes(random, bytes);
                }
            }

            CheckAllWays(random, [.. bytes]);
        });
    }

    [Fact]
    public void Random_high_bytes_match_the_strict_decoder()
    {
        Property.ForAll(output, "random bytes", 3000, random =>
        {
            // Mostly 0x80 and above, where all the multi-byte rules are.
            var data = new byte[random.Next(0, 24)];
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = (byte)(random.Next(5) == 0 ? random.Next(0x80) : random.Next(0x80, 0x100));
            }

            CheckAllWays(random, data);
        });
    }
}
