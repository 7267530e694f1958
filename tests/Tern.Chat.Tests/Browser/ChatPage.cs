using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tern.Chat.Tests.Browser;

/// <summary>One user: a browser context of their own (own storage, own socket) with the chat page open.</summary>
public sealed class ChatPage : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly List<string> _pageErrors = [];
    private readonly List<string> _consoleErrors = [];

    private ChatPage(IBrowserContext context, IPage page)
    {
        _context = context;
        Page = page;
        page.PageError += (_, error) => _pageErrors.Add(error);
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                _consoleErrors.Add(message.Text);
            }
        };
        page.Dialog += (_, dialog) =>
        {
            _pageErrors.Add("A dialog opened: " + dialog.Message);
            _ = dialog.DismissAsync();
        };
    }

    public IPage Page { get; }

    /// <summary>Uncaught script errors and dialogs (an injected alert() would show here).</summary>
    public IReadOnlyList<string> PageErrors => _pageErrors;

    /// <summary>Console errors other than the browser's own notes about refused WebSocket connections during a restart.</summary>
    public IReadOnlyList<string> ConsoleErrors => _consoleErrors.Where(e => !e.Contains("WebSocket connection to", StringComparison.Ordinal)).ToArray();

    public ILocator Messages => Page.Locator("#messages .msg:not(.private) .text");

    public ILocator People => Page.Locator("#people .person-name");

    public ILocator Connection => Page.Locator("#connection");

    public static async Task<ChatPage> OpenAsync(IBrowser browser, Uri url, int width = 1280, int height = 800, bool isMobile = false)
    {
        IBrowserContext context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            IsMobile = isMobile,
            HasTouch = isMobile,
            DeviceScaleFactor = isMobile ? 2 : 1,
            Locale = "en-GB",
            TimezoneId = "Europe/Amsterdam",
        });
        context.SetDefaultTimeout(15_000);
        IPage page = await context.NewPageAsync();
        var chat = new ChatPage(context, page);
        await page.GotoAsync(url.ToString());
        return chat;
    }

    public async Task JoinAsync(string nick, string room = "general")
    {
        await Expect(Connection).ToHaveAttributeAsync("data-state", "online");
        await Page.FillAsync("#nick", nick);
        await Page.FillAsync("#room", room);
        await Page.ClickAsync("#join-button");
        await WaitUntilInRoomAsync(room);
    }

    public async Task WaitUntilInRoomAsync(string room = "general")
    {
        await Expect(Page.Locator("#app")).ToHaveAttributeAsync("data-view", "chat");
        await Expect(Page.Locator("#room-title")).ToHaveTextAsync($"#{room}");
        await Expect(Connection).ToHaveAttributeAsync("data-state", "online");
        await Expect(Page.Locator("#composer")).Not.ToHaveClassAsync(new System.Text.RegularExpressions.Regex("offline"));
    }

    /// <summary>Types a message and presses Enter, as a person would.</summary>
    public async Task SayAsync(string text)
    {
        await Page.Locator("#text").FillAsync(text);
        await Page.Locator("#text").PressAsync("Enter");
    }

    public Task ScreenshotAsync(string path) => Page.ScreenshotAsync(new PageScreenshotOptions { Path = path });

    public async ValueTask DisposeAsync() => await _context.DisposeAsync();
}
