using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tern.Chat.Tests.Browser;

/// <summary>One user: a browser context of their own (own storage, own socket) with the chat page open.</summary>
public sealed class ChatPage : IAsyncDisposable
{
    private readonly IBrowserContext _context;
    private readonly List<string> _pageErrors = [];
    private readonly List<string> _consoleErrors = [];
    private readonly List<(bool Sent, string Text)> _frames = [];

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
        page.WebSocket += (_, socket) =>
        {
            socket.FrameSent += (_, frame) => Record(true, frame.Text);
            socket.FrameReceived += (_, frame) => Record(false, frame.Text);
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

    /// <summary>Every WebSocket frame the page sent (true) or received (false), in order, over all its connections.</summary>
    public IReadOnlyList<(bool Sent, string Text)> Frames
    {
        get
        {
            lock (_frames)
            {
                return [.. _frames];
            }
        }
    }

    public ILocator Messages => Page.Locator("#messages .msg:not(.private) .text");

    public ILocator People => Page.Locator("#people .person-name");

    public ILocator Connection => Page.Locator("#connection");

    /// <summary>The join and leave notices in the conversation.</summary>
    public ILocator JoinNotices => Page.Locator("#messages .notice.join");

    /// <summary>The room list entries, each "#name" followed by its member count.</summary>
    public ILocator RoomButtons => Page.Locator("#room-list .room-button");

    /// <summary>Messages typed here that the server has not confirmed yet.</summary>
    public ILocator PendingMessages => Page.Locator("#pending .msg");

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

    /// <summary>Goes to another room with the "Go to room" form, as a person would, and waits until the page is in it.</summary>
    public async Task SwitchRoomAsync(string room)
    {
        await Page.FillAsync("#new-room", room);
        await Page.PressAsync("#new-room", "Enter");
        await WaitUntilInRoomAsync(room);
    }

    /// <summary>Sends each text with Enter, one right after the other (no waiting for the server in between).</summary>
    public async Task SayManyAsync(IEnumerable<string> texts)
    {
        foreach (string text in texts)
        {
            await SayAsync(text);
        }
    }

    /// <summary>Opens a private message to someone by clicking their name in the people list.</summary>
    public Task StartPrivateMessageAsync(string nick) =>
        Page.Locator("#people .person-button", new() { HasText = nick }).ClickAsync();

    public Task ScreenshotAsync(string path) => Page.ScreenshotAsync(new PageScreenshotOptions { Path = path });

    private void Record(bool sent, string? text)
    {
        lock (_frames)
        {
            _frames.Add((sent, text ?? ""));
        }
    }

    public async ValueTask DisposeAsync() => await _context.DisposeAsync();
}
