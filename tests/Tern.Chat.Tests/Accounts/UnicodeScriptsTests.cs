using Tern.Chat.Accounts;

namespace Tern.Chat.Tests.Accounts;

public sealed class UnicodeScriptsTests
{
    [Theory]
    [InlineData('a', UnicodeScript.Latin)]
    [InlineData('Z', UnicodeScript.Latin)]
    [InlineData('\u00E9', UnicodeScript.Latin)]
    [InlineData('\u0430', UnicodeScript.Cyrillic)]
    [InlineData('\u04CF', UnicodeScript.Cyrillic)]
    [InlineData('\u03BF', UnicodeScript.Greek)]
    [InlineData('\u05D0', UnicodeScript.Hebrew)]
    [InlineData('\u0627', UnicodeScript.Arabic)]
    [InlineData('\u4E2D', UnicodeScript.Han)]
    [InlineData('\u3042', UnicodeScript.Hiragana)]
    [InlineData('\u30A2', UnicodeScript.Katakana)]
    [InlineData('\uAC00', UnicodeScript.Hangul)]
    [InlineData('\u0915', UnicodeScript.Devanagari)]
    [InlineData('7', UnicodeScript.Common)]
    [InlineData('-', UnicodeScript.Common)]
    [InlineData('\u0301', UnicodeScript.Inherited)]
    [InlineData('\u16A0', UnicodeScript.Unknown)] // Runic: not in the table
    public void Characters_map_to_their_script(char c, UnicodeScript expected) => Assert.Equal(expected, UnicodeScripts.Of(c));

    [Fact]
    public void Astral_han_is_han() => Assert.Equal(UnicodeScript.Han, UnicodeScripts.Of(0x20BB7)); // 𠮷

    [Fact]
    public void Only_one_script_or_a_cjk_combination_is_compatible()
    {
        Assert.True(UnicodeScripts.AreCompatible(new HashSet<UnicodeScript> { UnicodeScript.Latin }));
        Assert.True(UnicodeScripts.AreCompatible(new HashSet<UnicodeScript> { UnicodeScript.Han, UnicodeScript.Hiragana, UnicodeScript.Katakana }));
        Assert.True(UnicodeScripts.AreCompatible(new HashSet<UnicodeScript> { UnicodeScript.Han, UnicodeScript.Hangul }));
        Assert.False(UnicodeScripts.AreCompatible(new HashSet<UnicodeScript> { UnicodeScript.Latin, UnicodeScript.Cyrillic }));
        Assert.False(UnicodeScripts.AreCompatible(new HashSet<UnicodeScript> { UnicodeScript.Hangul, UnicodeScript.Hiragana }));
    }

    [Fact]
    public void Ranges_are_sorted_and_do_not_overlap()
    {
        var ranges = UnicodeScripts.Ranges;
        for (int i = 0; i < ranges.Count; i++)
        {
            Assert.True(ranges[i].First <= ranges[i].Last, $"range {i} is reversed");
            if (i > 0)
            {
                Assert.True(ranges[i - 1].Last < ranges[i].First, $"range {i} overlaps or is out of order");
            }
        }
    }
}
