using System.Diagnostics;
using Xunit.Abstractions;

namespace Tern.Tests.Fuzzing;

/// <summary>
/// Runs a seeded property over many generated cases. Case <c>i</c> draws from <c>new Random(seed + i)</c>, and the seed
/// is fixed (and logged), so CI runs the same inputs every time and a failure names the one case that reproduces it.
/// </summary>
/// <remarks>
/// For a longer run, set <c>TERN_FUZZ_SEED</c> (any integer, e.g. <c>$RANDOM</c>) and <c>TERN_FUZZ_SCALE</c> (a
/// multiplier of every property's case count): see bench/Tern.Fuzz/README.md.
/// </remarks>
internal static class Property
{
    /// <summary>The seed CI uses.</summary>
    public const int DefaultSeed = 20261202;

    public static int Seed => int.TryParse(Environment.GetEnvironmentVariable("TERN_FUZZ_SEED"), out int seed) ? seed : DefaultSeed;

    private static int Scale => int.TryParse(Environment.GetEnvironmentVariable("TERN_FUZZ_SCALE"), out int scale) && scale > 0 ? scale : 1;

    /// <summary>Runs <paramref name="body"/> for <paramref name="cases"/> (times the scale) cases; any exception fails the test with the case's seed.</summary>
    public static void ForAll(ITestOutputHelper output, string name, int cases, Action<Random> body)
    {
        int seed = Seed;
        int total = checked(cases * Scale);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < total; i++)
        {
            int caseSeed = unchecked(seed + i);
            try
            {
                body(new Random(caseSeed));
            }
            catch (Exception e)
            {
                throw new InvariantException(
                    $"{name}: case {i} of seed {seed} failed; TERN_FUZZ_SEED={caseSeed} makes it the first case.\n{e}");
            }
        }

        output.WriteLine($"{name}: {total} cases from seed {seed} in {clock.ElapsedMilliseconds} ms");
    }
}
