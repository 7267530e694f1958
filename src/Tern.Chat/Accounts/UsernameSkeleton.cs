using System.Globalization;
using System.Text;

namespace Tern.Chat.Accounts;

/// <summary>
/// How a username looks, reduced to a plain form: a simplified UTS #39 skeleton. Two names with the same skeleton
/// could pass for each other ("alice", "aIice", "a1ice", "аlice" with a Cyrillic а), so only one of them may exist.
/// </summary>
/// <remarks>
/// Steps: NFKD (compatibility forms and precomposed accents come apart), combining marks dropped, the common
/// look-alikes of Latin letters in capital form mapped (a capital I is a lower-case l in most fonts), lower-cased
/// (invariant), the common lower-case look-alikes mapped to Latin (Cyrillic, Greek, digits), and finally the letter
/// pairs that read as one letter ("rn" as m, "vv" as w). It is not the full Unicode confusables table — that is
/// thousands of entries, most for scripts mixing already rules out — but covers the look-alikes of Latin, the script
/// that most impersonations target. Changing the mapping changes stored skeletons' meaning: existing accounts keep
/// theirs, so only tighten it (map more), which can only make new names collide more.
/// </remarks>
public static class UsernameSkeleton
{
    // Capital letters that look like a different lower-case Latin letter than their own lower case does.
    private static readonly Dictionary<char, char> s_capitals = new()
    {
        ['I'] = 'l', // I looks like l
        ['Ι'] = 'l', // Greek capital iota
        ['Ӏ'] = 'l', // Cyrillic palochka
        ['І'] = 'l', // Cyrillic capital Byelorussian-Ukrainian I
        ['В'] = 'b', ['Β'] = 'b', // Cyrillic Ve, Greek Beta
        ['Н'] = 'h', ['Η'] = 'h', // Cyrillic En, Greek Eta
        ['К'] = 'k', ['Κ'] = 'k',
        ['М'] = 'm', ['Μ'] = 'm',
        ['Т'] = 't', ['Τ'] = 't',
        ['Ν'] = 'n', // Greek Nu
        ['Ζ'] = 'z', // Greek Zeta
        ['Ρ'] = 'p', ['Р'] = 'p',
        ['Χ'] = 'x', ['Х'] = 'x',
        ['Υ'] = 'y', ['У'] = 'y',
        ['Α'] = 'a', ['А'] = 'a',
        ['Ε'] = 'e', ['Е'] = 'e',
        ['Ο'] = 'o', ['О'] = 'o',
        ['С'] = 'c',
        ['Ѕ'] = 's',
        ['Ј'] = 'j',
    };

    // Lower-case look-alikes of Latin letters (and digits that pass for letters).
    private static readonly Dictionary<char, char> s_lowerCase = new()
    {
        // Cyrillic
        ['а'] = 'a', ['е'] = 'e', ['о'] = 'o', ['р'] = 'p', ['с'] = 'c', ['у'] = 'y', ['х'] = 'x',
        ['і'] = 'i', ['ј'] = 'j', ['ѕ'] = 's', ['ԁ'] = 'd', ['ӏ'] = 'l', ['һ'] = 'h', ['ԛ'] = 'q',
        ['ԝ'] = 'w', ['ѵ'] = 'v', ['ү'] = 'y',
        // Greek
        ['ο'] = 'o', ['α'] = 'a', ['ν'] = 'v', ['ρ'] = 'p', ['τ'] = 't', ['ι'] = 'i', ['κ'] = 'k',
        ['υ'] = 'u', ['χ'] = 'x', ['ϲ'] = 'c', ['ϳ'] = 'j',
        // Latin look-alikes of other Latin letters
        ['ı'] = 'i', ['ȷ'] = 'j', ['ɩ'] = 'i', ['ʟ'] = 'l', ['ɑ'] = 'a', ['ɡ'] = 'g',
        // Digits and symbols
        ['0'] = 'o', ['1'] = 'l', ['|'] = 'l',
    };

    /// <summary>The skeleton of a name. Defined for any string; meant for names that passed <see cref="UsernameRules"/>.</summary>
    public static string Of(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string decomposed = name.Normalize(NormalizationForm.FormKD);
        var skeleton = new StringBuilder(decomposed.Length);
        foreach (char c in decomposed)
        {
            UnicodeCategory category = CharUnicodeInfo.GetUnicodeCategory(c);
            if (category is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark)
            {
                continue; // "ȧlice" and "alice" look alike enough.
            }

            if (s_capitals.TryGetValue(c, out char mapped))
            {
                skeleton.Append(mapped);
                continue;
            }

            char lower = char.ToLowerInvariant(c);
            skeleton.Append(s_lowerCase.TryGetValue(lower, out mapped) ? mapped : lower);
        }

        // Pairs last, so that pairs made of mapped letters (Greek "νν" → "vv" → "w") fold too.
        return skeleton.Replace("rn", "m").Replace("vv", "w").ToString();
    }
}
