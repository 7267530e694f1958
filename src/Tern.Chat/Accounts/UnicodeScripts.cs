namespace Tern.Chat.Accounts;

/// <summary>The writing systems a username may be written in (one at a time).</summary>
public enum UnicodeScript
{
    /// <summary>Shared by every script: ASCII digits, '-', '_', '.'.</summary>
    Common,

    /// <summary>Combining marks that take the script of the letter they sit on (U+0300–U+036F and kin).</summary>
    Inherited,

    /// <summary>A letter outside every range this table knows: refused in usernames, since its look-alikes are unknown too.</summary>
    Unknown,

#pragma warning disable CS1591 // The names are the scripts' Unicode names; a summary each would only repeat them.
    Latin,
    Greek,
    Cyrillic,
    Armenian,
    Hebrew,
    Arabic,
    Syriac,
    Thaana,
    Nko,
    Devanagari,
    Bengali,
    Gurmukhi,
    Gujarati,
    Oriya,
    Tamil,
    Telugu,
    Kannada,
    Malayalam,
    Sinhala,
    Thai,
    Lao,
    Tibetan,
    Myanmar,
    Georgian,
    Hangul,
    Ethiopic,
    Cherokee,
    CanadianAboriginal,
    Khmer,
    Mongolian,
    Hiragana,
    Katakana,
    Bopomofo,
    Han,
    Yi,
#pragma warning restore CS1591
}

/// <summary>
/// The script of a character, by Unicode block. .NET has no Script property, and a username needs only the common
/// scripts told apart: mixing them is how look-alike names ("аlice" with a Cyrillic а) are made. Blocks are a close
/// enough stand-in for the Script property for letters (the few Common letters inside them do not matter here).
/// </summary>
public static class UnicodeScripts
{
    // Sorted by start; each range is inclusive. Compatibility forms (fullwidth Latin, halfwidth Katakana) are left out
    // on purpose: usernames must be NFKC-stable, so those never reach this table.
    private static readonly (int First, int Last, UnicodeScript Script)[] s_ranges =
    [
        (0x0041, 0x005A, UnicodeScript.Latin),
        (0x0061, 0x007A, UnicodeScript.Latin),
        (0x00AA, 0x00AA, UnicodeScript.Latin),
        (0x00BA, 0x00BA, UnicodeScript.Latin),
        (0x00C0, 0x00D6, UnicodeScript.Latin),
        (0x00D8, 0x00F6, UnicodeScript.Latin),
        (0x00F8, 0x02AF, UnicodeScript.Latin),      // Latin-1 letters, Latin Extended-A/B, IPA Extensions
        (0x0300, 0x036F, UnicodeScript.Inherited),  // Combining Diacritical Marks
        (0x0370, 0x03FF, UnicodeScript.Greek),
        (0x0400, 0x052F, UnicodeScript.Cyrillic),   // Cyrillic and its Supplement
        (0x0530, 0x058F, UnicodeScript.Armenian),
        (0x0590, 0x05FF, UnicodeScript.Hebrew),
        (0x0600, 0x06FF, UnicodeScript.Arabic),
        (0x0700, 0x074F, UnicodeScript.Syriac),
        (0x0750, 0x077F, UnicodeScript.Arabic),     // Arabic Supplement
        (0x0780, 0x07BF, UnicodeScript.Thaana),
        (0x07C0, 0x07FF, UnicodeScript.Nko),
        (0x0860, 0x086F, UnicodeScript.Syriac),     // Syriac Supplement
        (0x0870, 0x08FF, UnicodeScript.Arabic),     // Arabic Extended-B/A
        (0x0900, 0x097F, UnicodeScript.Devanagari),
        (0x0980, 0x09FF, UnicodeScript.Bengali),
        (0x0A00, 0x0A7F, UnicodeScript.Gurmukhi),
        (0x0A80, 0x0AFF, UnicodeScript.Gujarati),
        (0x0B00, 0x0B7F, UnicodeScript.Oriya),
        (0x0B80, 0x0BFF, UnicodeScript.Tamil),
        (0x0C00, 0x0C7F, UnicodeScript.Telugu),
        (0x0C80, 0x0CFF, UnicodeScript.Kannada),
        (0x0D00, 0x0D7F, UnicodeScript.Malayalam),
        (0x0D80, 0x0DFF, UnicodeScript.Sinhala),
        (0x0E00, 0x0E7F, UnicodeScript.Thai),
        (0x0E80, 0x0EFF, UnicodeScript.Lao),
        (0x0F00, 0x0FFF, UnicodeScript.Tibetan),
        (0x1000, 0x109F, UnicodeScript.Myanmar),
        (0x10A0, 0x10FF, UnicodeScript.Georgian),
        (0x1100, 0x11FF, UnicodeScript.Hangul),     // Hangul Jamo
        (0x1200, 0x139F, UnicodeScript.Ethiopic),   // Ethiopic and its Supplement
        (0x13A0, 0x13FF, UnicodeScript.Cherokee),
        (0x1400, 0x167F, UnicodeScript.CanadianAboriginal),
        (0x1780, 0x17FF, UnicodeScript.Khmer),
        (0x1800, 0x18AF, UnicodeScript.Mongolian),
        (0x18B0, 0x18FF, UnicodeScript.CanadianAboriginal), // Extended
        (0x19E0, 0x19FF, UnicodeScript.Khmer),      // Khmer Symbols
        (0x1AB0, 0x1AFF, UnicodeScript.Inherited),  // Combining Diacritical Marks Extended
        (0x1C80, 0x1C8F, UnicodeScript.Cyrillic),   // Cyrillic Extended-C
        (0x1C90, 0x1CBF, UnicodeScript.Georgian),   // Georgian Extended (Mtavruli)
        (0x1D00, 0x1D7F, UnicodeScript.Latin),      // Phonetic Extensions
        (0x1D80, 0x1DBF, UnicodeScript.Latin),      // Phonetic Extensions Supplement
        (0x1DC0, 0x1DFF, UnicodeScript.Inherited),  // Combining Diacritical Marks Supplement
        (0x1E00, 0x1EFF, UnicodeScript.Latin),      // Latin Extended Additional
        (0x1F00, 0x1FFF, UnicodeScript.Greek),      // Greek Extended
        (0x20D0, 0x20FF, UnicodeScript.Inherited),  // Combining Diacritical Marks for Symbols
        (0x2C60, 0x2C7F, UnicodeScript.Latin),      // Latin Extended-C
        (0x2D00, 0x2D2F, UnicodeScript.Georgian),   // Georgian Supplement
        (0x2D80, 0x2DDF, UnicodeScript.Ethiopic),   // Ethiopic Extended
        (0x2DE0, 0x2DFF, UnicodeScript.Cyrillic),   // Cyrillic Extended-A
        (0x2E80, 0x2FDF, UnicodeScript.Han),        // CJK Radicals Supplement, Kangxi Radicals
        (0x3005, 0x3007, UnicodeScript.Han),        // 々 〆 〇
        (0x3041, 0x309F, UnicodeScript.Hiragana),
        (0x30A0, 0x30FF, UnicodeScript.Katakana),
        (0x3105, 0x312F, UnicodeScript.Bopomofo),
        (0x3131, 0x318F, UnicodeScript.Hangul),     // Hangul Compatibility Jamo
        (0x31A0, 0x31BF, UnicodeScript.Bopomofo),   // Bopomofo Extended
        (0x31F0, 0x31FF, UnicodeScript.Katakana),   // Katakana Phonetic Extensions
        (0x3400, 0x4DBF, UnicodeScript.Han),        // CJK Extension A
        (0x4E00, 0x9FFF, UnicodeScript.Han),        // CJK Unified Ideographs
        (0xA000, 0xA4CF, UnicodeScript.Yi),
        (0xA640, 0xA69F, UnicodeScript.Cyrillic),   // Cyrillic Extended-B
        (0xA720, 0xA7FF, UnicodeScript.Latin),      // Latin Extended-D
        (0xA960, 0xA97F, UnicodeScript.Hangul),     // Hangul Jamo Extended-A
        (0xAB30, 0xAB6F, UnicodeScript.Latin),      // Latin Extended-E
        (0xAB70, 0xABBF, UnicodeScript.Cherokee),   // Cherokee Supplement
        (0xAC00, 0xD7AF, UnicodeScript.Hangul),     // Hangul Syllables
        (0xD7B0, 0xD7FF, UnicodeScript.Hangul),     // Hangul Jamo Extended-B
        (0xF900, 0xFAFF, UnicodeScript.Han),        // CJK Compatibility Ideographs
        (0xFB1D, 0xFB4F, UnicodeScript.Hebrew),     // Hebrew presentation forms
        (0xFB50, 0xFDFF, UnicodeScript.Arabic),     // Arabic Presentation Forms-A
        (0xFE20, 0xFE2F, UnicodeScript.Inherited),  // Combining Half Marks
        (0xFE70, 0xFEFF, UnicodeScript.Arabic),     // Arabic Presentation Forms-B
        (0x1B000, 0x1B0FF, UnicodeScript.Hiragana), // Kana Supplement (hentaigana)
        (0x20000, 0x3134F, UnicodeScript.Han),      // CJK Extensions B–G and Compatibility Supplement
    ];

    /// <summary>The table, for its tests.</summary>
    internal static IReadOnlyList<(int First, int Last, UnicodeScript Script)> Ranges => s_ranges;

    /// <summary>The script of a code point: <see cref="UnicodeScript.Common"/> for ASCII digits and punctuation, <see cref="UnicodeScript.Unknown"/> for anything outside the table.</summary>
    public static UnicodeScript Of(int codePoint)
    {
        if (codePoint is >= '0' and <= '9' or '-' or '_' or '.')
        {
            return UnicodeScript.Common;
        }

        int low = 0, high = s_ranges.Length - 1;
        while (low <= high)
        {
            int middle = (low + high) >>> 1;
            (int first, int last, UnicodeScript script) = s_ranges[middle];
            if (codePoint < first)
            {
                high = middle - 1;
            }
            else if (codePoint > last)
            {
                low = middle + 1;
            }
            else
            {
                return script;
            }
        }

        return UnicodeScript.Unknown;
    }

    /// <summary>
    /// True when the scripts may appear together in one name: all the same, or the combinations one language writes
    /// with as a matter of course — Japanese (Han, Hiragana, Katakana), Korean (Han, Hangul) and Chinese with Bopomofo.
    /// <see cref="UnicodeScript.Common"/> and <see cref="UnicodeScript.Inherited"/> must not be passed.
    /// </summary>
    public static bool AreCompatible(IReadOnlySet<UnicodeScript> scripts)
    {
        ArgumentNullException.ThrowIfNull(scripts);
        if (scripts.Count <= 1)
        {
            return true;
        }

        return IsSubsetOf(scripts, UnicodeScript.Han, UnicodeScript.Hiragana, UnicodeScript.Katakana)
            || IsSubsetOf(scripts, UnicodeScript.Han, UnicodeScript.Hangul)
            || IsSubsetOf(scripts, UnicodeScript.Han, UnicodeScript.Bopomofo);
    }

    private static bool IsSubsetOf(IReadOnlySet<UnicodeScript> scripts, params UnicodeScript[] allowed)
    {
        foreach (UnicodeScript script in scripts)
        {
            if (Array.IndexOf(allowed, script) < 0)
            {
                return false;
            }
        }

        return true;
    }
}
