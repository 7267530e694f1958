namespace Tern.Chat.Tests.Browser;

/// <summary>
/// The page's message formatting (wwwroot/js/format.js) run in Chromium: what each syntax becomes as DOM, and that
/// markup in the text only ever becomes text.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class FormattingBrowserTests(BrowserFixture browser) : BrowserTest(browser)
{
    private const string LinkAttributes = "target=\"_blank\" rel=\"noopener noreferrer\"";

    private static readonly (string Text, string Html)[] s_cases =
    [
        ("**bold**", "<strong>bold</strong>"),
        ("*it* and _it_", "<em>it</em> and <em>it</em>"),
        ("snake_case_name", "snake_case_name"),
        ("***both***", "<strong><em>both</em></strong>"),
        ("**bold _and it_**", "<strong>bold <em>and it</em></strong>"),
        ("a ** b ** c", "a ** b ** c"),
        ("**unclosed", "**unclosed"),
        ("`a < b`", "<code class=\"inline-code\">a &lt; b</code>"),
        ("`**not bold**`", "<code class=\"inline-code\">**not bold**</code>"),
        ("```js\nx<y\n```", "<pre class=\"code-block\"><code>x&lt;y</code></pre>"),
        ("```<b>x</b>```", "<pre class=\"code-block\"><code>&lt;b&gt;x&lt;/b&gt;</code></pre>"),
        ("x ```\n**no** @bob\n``` y", "x <pre class=\"code-block\"><code>**no** @bob</code></pre> y"),
        ("**see https://e.com/x**", $"<strong>see <a href=\"https://e.com/x\" {LinkAttributes}>https://e.com/x</a></strong>"),
        ("go to https://e.com/a. now", $"go to <a href=\"https://e.com/a\" {LinkAttributes}>https://e.com/a</a>. now"),
        ("(https://e.com/b)", $"(<a href=\"https://e.com/b\" {LinkAttributes}>https://e.com/b</a>)"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("[x](javascript:alert(1)) data:text/html,hi", "[x](javascript:alert(1)) data:text/html,hi"),
        ("http://[bad", "http://[bad"),
        ("@bob hi @alice", "<span class=\"mention mention-of-me\">@bob</span> hi <span class=\"mention\">@alice</span>"),
        ("@bob.", "<span class=\"mention mention-of-me\">@bob</span>."),
        ("mail@example.com", "mail@example.com"),
        ("<b>x</b> <img src=x onerror=alert(1)>", "&lt;b&gt;x&lt;/b&gt; &lt;img src=x onerror=alert(1)&gt;"),
        ("**<svg onload=alert(1)>**", "<strong>&lt;svg onload=alert(1)&gt;</strong>"),
    ];

    [Fact]
    public async Task Each_syntax_becomes_its_element_and_markup_stays_text()
    {
        ChatPage page = await OpenAsync();
        string[] html = await page.Page.EvaluateAsync<string[]>(
            """
            async texts => {
              const { formatMessage } = await import('/js/format.js');
              return texts.map(text => {
                const box = document.createElement('div');
                box.append(formatMessage(text, { me: 'bob' }));
                return box.innerHTML;
              });
            }
            """,
            s_cases.Select(c => c.Text).ToArray());

        string[] wrong = s_cases.Zip(html).Where(p => p.First.Html != p.Second).Select(p => $"{p.First.Text} => {p.Second} (expected {p.First.Html})").ToArray();
        Assert.Empty(wrong);
        AssertNoErrors(page);
    }
}
