using System.Globalization;
using Tern.Chat.Accounts;

namespace Tern.Chat.Hub;

/// <summary>Finds <c>@username</c> mentions in a message text.</summary>
/// <remarks>
/// A mention is '@' at the start of the text or after a character that cannot be part of a username (so "a@b.org" is
/// not one), followed by username characters: letters, combining marks, digits, '-', '_' and '.'. Sentence
/// punctuation often follows a name ("thanks @bob."), so each mention also offers the name without its trailing
/// '-', '_' and '.' (<see cref="Find"/> returns candidates; the hub keeps those that name members).
/// </remarks>
public static class Mentions
{
    /// <summary>Most distinct names looked up per message, so that a text full of '@' costs a bounded number of lookups.</summary>
    public const int MaxMentionsPerMessage = 20;

    /// <summary>
    /// The username keys (NFC, lower-cased) a text may mention, in order of appearance: for each mention, the whole run
    /// and then, if different, the run without trailing punctuation. At most <see cref="MaxMentionsPerMessage"/> mentions.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> Find(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var found = new List<IReadOnlyList<string>>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = text.IndexOf('@'); i >= 0 && found.Count < MaxMentionsPerMessage; i = text.IndexOf('@', i + 1))
        {
            if (i > 0 && IsNameChar(text, i - 1))
            {
                continue;
            }

            int end = i + 1;
            while (end < text.Length && IsNameChar(text, end))
            {
                end += char.IsSurrogatePair(text, end) ? 2 : 1;
            }

            string run = text[(i + 1)..end];
            if (run.Length is 0 || run.Length > UsernameRules.MaxLength * 2)
            {
                continue;
            }

            string whole = UsernameRules.KeyOf(run);
            string trimmed = UsernameRules.KeyOf(run.TrimEnd('.', '-', '_'));
            if (!seen.Add(whole))
            {
                continue;
            }

            found.Add(trimmed.Length > 0 && trimmed != whole ? [whole, trimmed] : [whole]);
        }

        return found;
    }

    private static bool IsNameChar(string text, int index)
    {
        char c = text[index];
        if (c is '-' or '_' or '.')
        {
            return true;
        }

        UnicodeCategory category = char.IsSurrogatePair(text, index)
            ? CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[index], text[index + 1]))
            : CharUnicodeInfo.GetUnicodeCategory(c);
        return category is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark
            or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.DecimalDigitNumber;
    }
}
