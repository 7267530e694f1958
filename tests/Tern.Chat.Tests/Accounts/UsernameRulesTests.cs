using Tern.Chat.Accounts;

namespace Tern.Chat.Tests.Accounts;

public sealed class UsernameRulesTests
{
    [Theory]
    [InlineData("al")]
    [InlineData("alice")]
    [InlineData("Alice.Smith-2_x")]
    [InlineData("7up")]
    [InlineData("abcdefghijklmnopqrstuvwx")] // 24
    [InlineData("Алиса")] // Cyrillic only
    [InlineData("Αλίκη")] // Greek with a tonos
    [InlineData("山田太郎")]
    [InlineData("やまだ_タロウ")] // Hiragana and Katakana: Japanese
    [InlineData("김민준")]
    [InlineData("देवनागरी")] // Devanagari with its vowel signs (combining marks)
    [InlineData("José")]
    public void Valid_names_are_accepted(string name)
    {
        Assert.True(UsernameRules.TryCreate(name, out Username? username, out UsernameProblem problem), $"{name}: {problem}");
        Assert.Equal(name.Normalize(), username.Name);
    }

    [Theory]
    [InlineData("a", UsernameProblem.Length)]
    [InlineData("abcdefghijklmnopqrstuvwxy", UsernameProblem.Length)] // 25
    [InlineData("", UsernameProblem.Length)]
    [InlineData("-alice", UsernameProblem.Start)]
    [InlineData(".alice", UsernameProblem.Start)]
    [InlineData("_a", UsernameProblem.Start)]
    [InlineData("al ice", UsernameProblem.Characters)]
    [InlineData("al@ice", UsernameProblem.Characters)]
    [InlineData("alice!", UsernameProblem.Characters)]
    [InlineData("ａｌｉｃｅ", UsernameProblem.Characters)] // fullwidth: a compatibility form of "alice"
    [InlineData("ﬁsh", UsernameProblem.Characters)] // the "fi" ligature
    [InlineData("al\u200Bice", UsernameProblem.Invisible)] // zero-width space
    [InlineData("al\u200Dice", UsernameProblem.Invisible)] // zero-width joiner
    [InlineData("alice\u202E", UsernameProblem.Invisible)] // right-to-left override
    [InlineData("al\u2066ice", UsernameProblem.Invisible)] // isolate
    [InlineData("\u3164\u3164", UsernameProblem.Invisible)] // Hangul filler, a "letter" that shows nothing
    [InlineData("\u0430lice", UsernameProblem.MixedScripts)] // Cyrillic а + Latin
    [InlineData("p\u0430ypal", UsernameProblem.MixedScripts)]
    [InlineData("\u03BFmega", UsernameProblem.MixedScripts)] // Greek ο + Latin
    [InlineData("abc山", UsernameProblem.MixedScripts)]
    [InlineData("a\u0301\u0300\u0302\u0303\u0304\u0306", UsernameProblem.Characters)] // five marks left on á after NFC
    public void Invalid_names_are_refused_with_the_reason(string name, UsernameProblem expected)
    {
        Assert.False(UsernameRules.TryCreate(name, out _, out UsernameProblem problem));
        Assert.Equal(expected, problem);
        Assert.False(string.IsNullOrWhiteSpace(UsernameRules.Describe(problem)));
    }

    [Fact]
    public void A_lone_surrogate_is_refused()
    {
        Assert.False(UsernameRules.TryCreate("al\uD800ice", out _, out UsernameProblem problem));
        Assert.Equal(UsernameProblem.Invisible, problem);
    }

    [Fact]
    public void Names_are_stored_nfc_and_keyed_lower_case()
    {
        // "José" typed with a combining acute accent (NFD) is the same name as the precomposed one.
        Assert.True(UsernameRules.TryCreate("Jose\u0301", out Username? username, out _));
        Assert.Equal("Jos\u00E9", username.Name);
        Assert.Equal("jos\u00E9", username.Key);
        Assert.Equal("jos\u00E9", UsernameRules.KeyOf("JOSE\u0301"));
    }

    [Fact]
    public void Length_counts_the_nfc_form()
    {
        // 24 letters with combining accents are 48 code units as typed but 24 once composed.
        string decomposed = string.Concat(Enumerable.Repeat("e\u0301", 24));
        Assert.True(UsernameRules.TryCreate(decomposed, out Username? username, out UsernameProblem problem), problem.ToString());
        Assert.Equal(24, username.Name.Length);
    }

    [Theory]
    [InlineData("alice", "aIice")] // capital I for l
    [InlineData("alice", "a1ice")] // digit one for l
    [InlineData("alice", "\u0430\u04CFi\u0441\u0435")] // all-Cyrillic look-alike (а ӏ і с е) – one script, same look
    [InlineData("Alice", "AIice")]
    [InlineData("ALICE", "ALlCE")] // in capitals, I is the letter a lower-case l passes for
    [InlineData("alice", "\u00E1lice")] // an accent is not enough to tell names apart
    [InlineData("modern", "rnodern")] // rn reads as m
    [InlineData("wow", "vvow")]
    [InlineData("bob0", "bobo")]
    [InlineData("paypal", "\u0440\u0430\u0443\u0440\u0430\u04CF")] // all-Cyrillic р а у р а ӏ
    [InlineData("HOME", "\u041D\u041E\u041C\u0415")] // Cyrillic capitals Н О М Е
    [InlineData("viko", "\u03BD\u03B9\u03BA\u03BF")] // Greek ν looks like v (the table maps by look, not sound)
    public void Look_alikes_share_a_skeleton(string original, string lookAlike) =>
        Assert.Equal(UsernameSkeleton.Of(original), UsernameSkeleton.Of(lookAlike));

    [Theory]
    [InlineData("alice", "alicia")]
    [InlineData("bob", "rob")]
    [InlineData("ann", "anna")]
    [InlineData("a.b", "ab")]
    [InlineData("nico", "\u03BD\u03B9\u03BA\u03BF")] // Greek νικο reads "viko"
    public void Different_looking_names_keep_different_skeletons(string one, string other) =>
        Assert.NotEqual(UsernameSkeleton.Of(one), UsernameSkeleton.Of(other));

    [Fact]
    public void Created_usernames_carry_their_skeleton()
    {
        // "AIice" (capital i) is its own name and key, but looks like "Alice".
        Assert.True(UsernameRules.TryCreate("AIice", out Username? username, out _));
        Assert.Equal("aiice", username.Key);
        Assert.Equal(UsernameSkeleton.Of("alice"), username.Skeleton);
    }
}
