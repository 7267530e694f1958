using System.Text;
using Tern.Protocol;
using Xunit.Abstractions;

namespace Tern.Tests.Fuzzing;

/// <summary>
/// Seeded property tests of <see cref="HttpRequestParser"/> and <see cref="Handshake.Validate"/>: generated upgrade
/// requests parse and validate however they are chopped; mutated ones (bad line ends, control and high bytes, header
/// floods, long lines, truncations) are parsed or refused the same way whole and chopped, within the limits.
/// </summary>
public class HttpParserPropertyTests(ITestOutputHelper output)
{
    private static List<string> ParseBothWays(Random random, byte[] wire, int maxHeadBytes, int maxHeaderCount)
    {
        List<string> whole = Drivers.ParseHeads([wire], maxHeadBytes, maxHeaderCount);
        int style = random.Next(4);
        List<string> chopped = Drivers.ParseHeads(Drivers.Pieces(wire, Drivers.ChopPlan(random, wire.Length, style)), maxHeadBytes, maxHeaderCount);
        Drivers.Expect(whole.SequenceEqual(chopped),
            $"chop style {style} changed the outcome for {Convert.ToHexString(wire.AsSpan(0, Math.Min(wire.Length, 300)))}:\n whole:   {string.Join(" | ", whole)}\n chopped: {string.Join(" | ", chopped)}");
        return whole;
    }

    [Fact]
    public void Valid_upgrade_requests_parse_and_validate_however_chopped()
    {
        Property.ForAll(output, "valid upgrades", 1000, random =>
        {
            (string head, List<KeyValuePair<string, string>> fields) = Generators.UpgradeRequest(random);
            byte[] wire = Encoding.Latin1.GetBytes(head);
            var parser = new HttpRequestParser();
            Drivers.Expect(parser.TryParse(new(wire), out _, out HttpRequestHead? request, out HandshakeRefusal? refusal) == HttpParseStatus.Complete,
                $"refused {refusal}: {head}");
            Drivers.Expect(Handshake.Validate(request!) is null, $"handshake refused {Handshake.Validate(request!)}: {head}");
            Drivers.Expect(request!.Headers.Select(f => (f.Key, f.Value)).SequenceEqual(fields.Select(f => (f.Key, f.Value))),
                $"fields differ: {string.Join(", ", request.Headers)}");

            List<string> outcomes = ParseBothWays(random, wire, 8192, 100);
            Drivers.Expect(outcomes.Count == 1 && outcomes[0].Contains("validate=101", StringComparison.Ordinal), string.Join(" | ", outcomes));
        });
    }

    [Fact]
    public void Mutated_requests_are_parsed_or_refused_the_same_however_chopped()
    {
        Property.ForAll(output, "mutated requests", 2500, random =>
        {
            (string head, _) = Generators.UpgradeRequest(random);
            if (random.Next(4) == 0)
            {
                // Pipelined: a second request after the first.
                head += Generators.UpgradeRequest(random).Head;
            }

            byte[] wire = Generators.MutateHttp(random, head);
            int maxHeadBytes = random.Next(3) == 0 ? random.Next(16, 400) : 8192;
            ParseBothWays(random, wire, maxHeadBytes, random.Next(3) == 0 ? random.Next(0, 10) : 100);
        });
    }

    [Fact]
    public void Random_bytes_are_refused_or_wait_for_more_the_same_however_chopped()
    {
        Property.ForAll(output, "random bytes", 1500, random =>
        {
            // Request-ish bytes: printable ASCII with spaces, CR, LF, colons, and a few controls and high bytes.
            const string Alphabet = "GET /HTTP1.:\r\n\r\n  abcXYZ-\t\0\u007f\u00ff";
            var wire = new byte[random.Next(0, 400)];
            for (int i = 0; i < wire.Length; i++)
            {
                wire[i] = random.Next(3) == 0 ? (byte)random.Next(256) : (byte)Alphabet[random.Next(Alphabet.Length)];
            }

            if (random.Next(2) == 0 && wire.Length > 4)
            {
                "GET "u8.CopyTo(wire);
            }

            ParseBothWays(random, wire, random.Next(2) == 0 ? 64 : 8192, 8);
        });
    }
}
