using System.Globalization;

namespace Tern.Chat.Text;

/// <summary>What can be wrong with a message text, in the order <see cref="MessageText.Check"/> looks for it.</summary>
public enum MessageTextProblem
{
    /// <summary>Empty or only white space.</summary>
    Empty,

    /// <summary>Longer than the limit (UTF-16 code units, what JavaScript's <c>length</c> counts).</summary>
    TooLong,

    /// <summary>More lines than the limit.</summary>
    TooManyLines,

    /// <summary>Control characters other than tab and line breaks (or a lone surrogate).</summary>
    ControlCharacters,

    /// <summary>Bidirectional embeddings, overrides or isolates, which can reorder the page around the text.</summary>
    DirectionControls,

    /// <summary>Nothing a person could see: only format, invisible and white-space characters.</summary>
    Invisible,

    /// <summary>More than <see cref="MessageText.MaxCombiningMarks"/> combining marks stacked on one character ("zalgo").</summary>
    CombiningMarks,
}

/// <summary>
/// The rules every user-written text (messages, and display names through <see cref="CheckInline"/>) must pass. They
/// exist because the text is shown to other people: it must not be able to reorder or cover the page around it.
/// </summary>
public static class MessageText
{
    /// <summary>Most combining marks allowed on one base character; real scripts (Vietnamese, Indic, Hebrew points) need at most 3–4.</summary>
    public const int MaxCombiningMarks = 4;

    /// <summary>Checks a message text; null when it may be posted.</summary>
    public static MessageTextProblem? Check(string text, int maxLength, int maxLines)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.IsNullOrWhiteSpace(text))
        {
            return MessageTextProblem.Empty;
        }

        if (text.Length > maxLength)
        {
            return MessageTextProblem.TooLong;
        }

        if (CountLines(text) > maxLines)
        {
            return MessageTextProblem.TooManyLines;
        }

        return CheckCharacters(text, allowLineBreaks: true);
    }

    /// <summary>Checks a one-line text such as a display name: no line breaks or tabs at all, otherwise the same rules.</summary>
    public static MessageTextProblem? CheckInline(string text, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.IsNullOrWhiteSpace(text))
        {
            return MessageTextProblem.Empty;
        }

        return text.Length > maxLength ? MessageTextProblem.TooLong : CheckCharacters(text, allowLineBreaks: false);
    }

    /// <summary>Lines as a person sees them: "\r\n", "\n" and "\r" each end one.</summary>
    public static int CountLines(string text)
    {
        int lines = 1;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n' || text[i] == '\r' && (i + 1 == text.Length || text[i + 1] != '\n'))
            {
                lines++;
            }
        }

        return lines;
    }

    /// <summary>True for the bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).</summary>
    public static bool IsDirectionControl(int codePoint) => codePoint is >= 0x202A and <= 0x202E or >= 0x2066 and <= 0x2069;

    /// <summary>
    /// True for characters that show nothing by themselves: format characters (zero-width space and joiners, marks
    /// like U+200E), Unicode's default-ignorable code points that are not format characters (Hangul fillers, U+115F,
    /// variation selectors, tags), and the Braille blank, which renders empty.
    /// </summary>
    public static bool IsInvisible(int codePoint) =>
        CharUnicodeInfo.GetUnicodeCategory(codePoint) == UnicodeCategory.Format
        || codePoint is 0x115F or 0x1160 or 0x3164 or 0xFFA0 or 0x2800 or 0x034F
        || codePoint is >= 0xFE00 and <= 0xFE0F or >= 0xE0000 and <= 0xE0FFF or >= 0x180B and <= 0x180F;

    private static MessageTextProblem? CheckCharacters(string text, bool allowLineBreaks)
    {
        bool visible = false;
        int combiningRun = 0;
        for (int i = 0; i < text.Length; i++)
        {
            int codePoint;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                codePoint = char.ConvertToUtf32(text[i], text[i + 1]);
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return MessageTextProblem.ControlCharacters; // A lone surrogate is not text.
            }
            else
            {
                codePoint = text[i];
            }

            if (codePoint is '\n' or '\r' or '\t')
            {
                if (!allowLineBreaks)
                {
                    return MessageTextProblem.ControlCharacters;
                }

                combiningRun = 0;
                continue;
            }

            UnicodeCategory category = CharUnicodeInfo.GetUnicodeCategory(codePoint);
            if (category is UnicodeCategory.Control or UnicodeCategory.Surrogate or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                return MessageTextProblem.ControlCharacters;
            }

            if (IsDirectionControl(codePoint))
            {
                return MessageTextProblem.DirectionControls;
            }

            if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark)
            {
                if (++combiningRun > MaxCombiningMarks)
                {
                    return MessageTextProblem.CombiningMarks;
                }

                continue;
            }

            combiningRun = 0;
            if (!visible && !IsInvisible(codePoint) && category != UnicodeCategory.SpaceSeparator)
            {
                visible = true;
            }
        }

        return visible ? null : MessageTextProblem.Invisible;
    }
}
