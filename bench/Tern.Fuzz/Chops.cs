namespace Tern.Fuzz;

/// <summary>
/// Cuts an input into the pieces a transport might deliver, from one seed byte, so AFL explores the boundaries as
/// well as the bytes: every target compares a chopped run against a whole one.
/// </summary>
internal static class Chops
{
    /// <summary>Piece lengths covering <paramref name="length"/> bytes: 1-byte pieces, fixed sizes or pseudo-random ones.</summary>
    public static List<int> Plan(byte seed, int length)
    {
        var sizes = new List<int>();
        int style = seed & 0x3;
        var random = new Random(seed);
        for (int done = 0; done < length;)
        {
            int size = style switch
            {
                0 => 1,
                1 => 1 + (seed >> 2),
                _ => random.Next(1, 1 + (style == 2 ? 4 : 64)),
            };
            size = Math.Min(size, length - done);
            sizes.Add(size);
            done += size;
        }

        return sizes;
    }
}

/// <summary>An invariant of a parser broke: AFL records it as a crash, like any other escaping exception.</summary>
internal sealed class InvariantException(string message) : Exception(message);
