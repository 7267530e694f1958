using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using Tern.Chat.Text;

namespace Tern.Chat.Accounts;

/// <summary>What can be wrong with a username, in the order <see cref="UsernameRules.TryCreate"/> looks for it.</summary>
public enum UsernameProblem
{
    /// <summary>Invisible, format or bidirectional-control characters (zero-width space, U+202E…), or a lone surrogate.</summary>
    Invisible,

    /// <summary>Shorter than <see cref="UsernameRules.MinLength"/> or longer than <see cref="UsernameRules.MaxLength"/>.</summary>
    Length,

    /// <summary>Does not start with a letter or digit.</summary>
    Start,

    /// <summary>
    /// A character other than letters, digits, '-', '_', '.' and the combining marks of a letter, or a compatibility
    /// form (fullwidth letters, ligatures, superscripts) that stands for another character.
    /// </summary>
    Characters,

    /// <summary>A letter of a script the look-alike rules do not know.</summary>
    UnknownScript,

    /// <summary>Letters of more than one script (Latin with Cyrillic, say), which is how look-alike names are made.</summary>
    MixedScripts,
}

/// <summary>A username that passed <see cref="UsernameRules"/>, with the forms the store keeps unique.</summary>
/// <param name="Name">The name as chosen, NFC: shown with its case.</param>
/// <param name="Key">NFC, lower-cased (invariant): what sign-in and mentions match, unique.</param>
/// <param name="Skeleton">How the name looks (<see cref="UsernameSkeleton"/>): unique too, so no name passes for another.</param>
public sealed record Username(string Name, string Key, string Skeleton);

/// <summary>
/// The rules for usernames (docs/chat-protocol.md): 2 to 24 characters (UTF-16 code units after NFC, as JavaScript's
/// <c>length</c> counts), letters, digits, '-', '_' and '.', starting with a letter or digit; one script; nothing
/// invisible. Letters may carry combining marks (at most <see cref="MessageText.MaxCombiningMarks"/> each), which
/// scripts such as Devanagari need. The name must be NFKC-stable, so compatibility forms — fullwidth "ａｌｉｃｅ",
/// the ligature "ﬁ" — cannot stand in for the plain letters.
/// </summary>
public static class UsernameRules
{
    /// <summary>Fewest characters in a username.</summary>
    public const int MinLength = 2;

    /// <summary>Most characters in a username.</summary>
    public const int MaxLength = 24;

    /// <summary>Checks a chosen name and returns its stored forms; false with the first problem found otherwise.</summary>
    public static bool TryCreate(string input, [NotNullWhen(true)] out Username? username, out UsernameProblem problem)
    {
        ArgumentNullException.ThrowIfNull(input);
        username = null;
        problem = default;
        string? name = TryNormalize(input, NormalizationForm.FormC);
        UsernameProblem? found = name is null ? UsernameProblem.Invisible : Check(name);
        if (found is not null)
        {
            problem = found.Value;
            return false;
        }

        username = new Username(name!, name!.ToLowerInvariant(), UsernameSkeleton.Of(name));
        return true;
    }

    /// <summary>
    /// The key a typed name is looked up by at sign-in: NFC, lower-cased. Defined for any text, valid or not, so
    /// that sign-in never says more than "bad credentials".
    /// </summary>
    public static string KeyOf(string input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return (TryNormalize(input, NormalizationForm.FormC) ?? input).ToLowerInvariant();
    }

    /// <summary>A sentence for people saying what a good username is, for the problem found.</summary>
    public static string Describe(UsernameProblem problem) => problem switch
    {
        UsernameProblem.Invisible => "A username cannot contain invisible, formatting or text-direction characters.",
        UsernameProblem.Length => $"A username is {MinLength} to {MaxLength} characters long.",
        UsernameProblem.Start => "A username starts with a letter or a digit.",
        UsernameProblem.UnknownScript => "A username can only use letters of the common writing systems.",
        UsernameProblem.MixedScripts => "A username uses the letters of one writing system only (not, say, Latin and Cyrillic together).",
        _ => "A username is made of letters, digits, '-', '_' and '.'.",
    };

    /// <summary>Checks a name that is already NFC; null when it is a valid username.</summary>
    private static UsernameProblem? Check(string name)
    {
        // Invisible characters first: their message is the one that explains a name that "looks fine".
        foreach (Rune rune in name.EnumerateRunes())
        {
            if (MessageText.IsInvisible(rune.Value) || MessageText.IsDirectionControl(rune.Value))
            {
                return UsernameProblem.Invisible;
            }
        }

        if (name.Length is < MinLength or > MaxLength)
        {
            return UsernameProblem.Length;
        }

        Rune first = Rune.GetRuneAt(name, 0);
        if (!Rune.IsLetterOrDigit(first))
        {
            return UsernameProblem.Start;
        }

        // Before the script check: a fullwidth "ａ" is a compatibility form of "a", not a letter of an unknown script.
        if (!string.Equals(TryNormalize(name, NormalizationForm.FormKC), name, StringComparison.Ordinal))
        {
            return UsernameProblem.Characters;
        }

        var scripts = new HashSet<UnicodeScript>();
        int combiningRun = 0;
        foreach (Rune rune in name.EnumerateRunes())
        {
            UnicodeCategory category = Rune.GetUnicodeCategory(rune);
            bool isMark = category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark;
            combiningRun = isMark ? combiningRun + 1 : 0;
            if (combiningRun > MessageText.MaxCombiningMarks)
            {
                return UsernameProblem.Characters;
            }

            if (!isMark && !Rune.IsLetterOrDigit(rune) && rune.Value is not ('-' or '_' or '.'))
            {
                return UsernameProblem.Characters;
            }

            UnicodeScript script = UnicodeScripts.Of(rune.Value);
            if (script == UnicodeScript.Unknown)
            {
                return UsernameProblem.UnknownScript;
            }

            if (script is not (UnicodeScript.Common or UnicodeScript.Inherited))
            {
                scripts.Add(script);
            }
        }

        return UnicodeScripts.AreCompatible(scripts) ? null : UsernameProblem.MixedScripts;
    }

    /// <summary>The text normalized, or null when it cannot be (a lone surrogate).</summary>
    private static string? TryNormalize(string text, NormalizationForm form)
    {
        try
        {
            return text.Normalize(form);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
