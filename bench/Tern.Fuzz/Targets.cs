using Tern.Tests.Fuzzing;

namespace Tern.Fuzz;

/// <summary>
/// The fuzz targets. The first input byte picks the configuration and how the rest is chopped; the rest is fed to the
/// parser whole and chopped, through the same drivers as the property tests (tests/Tern.Tests/Fuzzing/Drivers.cs).
/// The parsers report bad input through their results, never by throwing, so nothing is caught here: any exception,
/// or a broken invariant (a chopped run that disagrees with the whole one, no progress, a result over a limit), is a
/// crash for AFL.
/// </summary>
internal static class Targets
{
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["http"] = Http,
        ["frames"] = Frames,
        ["utf8"] = Utf8,
    };

    // Small limits, so AFL's short inputs reach the limit paths too.
    private const int MaxHeadBytes = 1024;
    private const int MaxHeaderCount = 16;

    private static readonly long[] MessageLimits = [0, 1, 125, 126, 1000, 65_536, 1 << 20, long.MaxValue];

    // Seed bits 0-1: the chop style (1-byte pieces, one size, small random sizes, large random sizes).
    private static List<int> Chop(byte seed, int length) => Drivers.ChopPlan(new Random(seed), length, seed & 3);

    private static void Http(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        ReadOnlyMemory<byte> data = input.AsMemory(1);
        List<string> whole = Drivers.ParseHeads([data], MaxHeadBytes, MaxHeaderCount);
        List<string> chopped = Drivers.ParseHeads(Drivers.Pieces(data, Chop(input[0], data.Length)), MaxHeadBytes, MaxHeaderCount);
        Drivers.Expect(whole.SequenceEqual(chopped), $"chopped run differs:\n whole:   {string.Join(" | ", whole)}\n chopped: {string.Join(" | ", chopped)}");
    }

    private static void Frames(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        // Seed bit 2: client mode (unmasked frames); bits 3-5: the message limit.
        bool server = (input[0] & 0x4) == 0;
        long limit = MessageLimits[(input[0] >> 3) & 0x7];
        ReadOnlyMemory<byte> data = input.AsMemory(1);
        List<DecodedEvent> whole = Drivers.Decode([data], server, limit);
        List<DecodedEvent> chopped = Drivers.Decode(Drivers.Pieces(data, Chop(input[0], data.Length)), server, limit);
        Drivers.Expect(Drivers.Same(whole, chopped), $"chopped run differs:\n whole:\n  {Drivers.Describe(whole)}\n chopped:\n  {Drivers.Describe(chopped)}");
    }

    private static void Utf8(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        ReadOnlySpan<byte> data = input.AsSpan(1);
        Drivers.CheckUtf8Validator(data, [data.Length]);
        Drivers.CheckUtf8Validator(data, Chop(input[0], data.Length));
    }
}
