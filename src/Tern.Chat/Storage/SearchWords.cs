using System.Globalization;
using System.Text;

namespace Tern.Chat.Storage;

/// <summary>
/// The words <see cref="PostgresChatDatabase"/> indexes and searches for, cut the way SQLite's <c>unicode61</c>
/// tokenizer (with <c>remove_diacritics</c>) cuts them: a word is a run of letters and digits (any script), everything
/// else separates words, letters lose their accents and case. The same function cuts the text and the query, so what
/// one finds the other has; PostgreSQL then only compares whole words (and the last word's prefix).
/// </summary>
/// <remarks>
/// PostgreSQL's own parser (to_tsvector) would keep URLs, e-mail addresses, file paths and hyphenated words whole, so a
/// search for one part of them would find nothing; and accent folding there needs the unaccent extension, which an
/// ordinary database user may not be allowed to create.
/// </remarks>
internal static class SearchWords
{
    /// <summary>
    /// The longest word indexed, in UTF-8 bytes: PostgreSQL refuses lexemes of 2 KiB or more. A longer "word" (no
    /// person types one) is left out of the index, and a query with one finds nothing.
    /// </summary>
    public const int MaxWordBytes = 2000;

    /// <summary>The distinct words of a message's text, to store as its <c>tsvector</c> (with <c>array_to_tsvector</c>).</summary>
    public static string[] Index(string text) => Cut(text).Where(w => Encoding.UTF8.GetByteCount(w) <= MaxWordBytes).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>
    /// The <c>tsquery</c> for words typed by a person: every word required, the last one a prefix; each word a quoted
    /// lexeme, so nothing typed is read as query syntax. Null when the query has no word, or one too long to be indexed
    /// (either way nothing can match).
    /// </summary>
    public static string? Query(string query)
    {
        List<string> words = Cut(query);
        if (words.Count == 0 || words.Any(w => Encoding.UTF8.GetByteCount(w) > MaxWordBytes))
        {
            return null;
        }

        // Words hold only letters and digits; quotes and backslashes are escaped anyway, as tsquery input wants them.
        return string.Join(" & ", words.Select(w => "'" + w.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "''", StringComparison.Ordinal) + "'")) + ":*";
    }

    /// <summary>The words of <paramref name="text"/>, folded, in order.</summary>
    private static List<string> Cut(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        // A lone surrogate would make Normalize throw; UTF-8 round-tripping turns it into U+FFFD, a separator.
        string valid = text.Any(char.IsSurrogate) ? Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text)) : text;
        foreach (Rune rune in valid.Normalize(NormalizationForm.FormD).EnumerateRunes())
        {
            UnicodeCategory category = Rune.GetUnicodeCategory(rune);
            if (category == UnicodeCategory.NonSpacingMark)
            {
                // An accent (decomposed from its letter above) is dropped; the word goes on.
                continue;
            }

            if (Rune.IsLetterOrDigit(rune) || category is UnicodeCategory.SpacingCombiningMark or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber)
            {
                word.Append(Rune.ToLowerInvariant(rune).ToString());
                continue;
            }

            Flush();
        }

        Flush();
        return words;

        void Flush()
        {
            if (word.Length > 0)
            {
                words.Add(word.ToString().Normalize(NormalizationForm.FormC));
                word.Clear();
            }
        }
    }
}
