using System.Text.RegularExpressions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Tern.Chat.Tests.Browser;

/// <summary>
/// One tab of the chat page. A person is a browser context of their own (own cookies, so their own session);
/// <see cref="OpenTabAsync"/> opens another tab of the same person (same context, same session cookie).
/// </summary>
public sealed partial class ChatPage : IAsyncDisposable
{
    /// <summary>A password every test account uses; long enough for the 8-character minimum.</summary>
    public const string Password = "correct-horse-42";

    private readonly IBrowserContext _context;
    private readonly bool _ownsContext;
    private readonly List<string> _pageErrors = [];
    private readonly List<string> _consoleErrors = [];
    private readonly List<(bool Sent, string Text)> _frames = [];
    private bool _disposed;

    /// <summary>The URL of every WebSocket the page opened.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<string> SocketUrls { get; } = new();

    private ChatPage(IBrowserContext context, IPage page, Uri url, bool ownsContext)
    {
        _context = context;
        _ownsContext = ownsContext;
        Page = page;
        Url = url;
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
            SocketUrls.Enqueue(socket.Url);
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

    public Uri Url { get; }

    /// <summary>Uncaught script errors and dialogs (an injected alert() would show here).</summary>
    public IReadOnlyList<string> PageErrors => _pageErrors;

    /// <summary>
    /// Console errors, less the browser's own notes that are expected here: refused WebSocket connections during a
    /// restart (and the session check that a refused handshake triggers), and API answers in the 4xx range (401 from GET /api/session on the sign-in screen is how the page
    /// learns there is no session; 409 or 429 are answers a test provokes).
    /// </summary>
    public IReadOnlyList<string> ConsoleErrors => _consoleErrors
        .Where(e => !e.Contains("WebSocket connection to", StringComparison.Ordinal))
        .Where(e => !e.Contains("net::ERR_CONNECTION_REFUSED", StringComparison.Ordinal))
        .Where(e => !ExpectedHttpError().IsMatch(e))
        .ToArray();

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

    /// <summary>The texts of the messages held in the open conversation (not those still being sent).</summary>
    public ILocator Messages => Page.Locator("#messages .msg .text");

    public ILocator Pending => Page.Locator("#pending .msg");

    public ILocator Members => Page.Locator("#members .member-name");

    public ILocator Connection => Page.Locator("#connection");

    public ILocator Title => Page.Locator("#conversation-title");

    public ILocator Typing => Page.Locator("#typing");

    public ILocator View => Page.Locator("#app");

    /// <summary>The sidebar entry of a room (by name) or a direct conversation (by the other person's username).</summary>
    public ILocator Conversation(string name) => Page.Locator($"#sidebar .conversation-button[data-name=\"{name}\"]");

    public ILocator UnreadBadge(string name) => Conversation(name).Locator(".unread-badge");

    public ILocator MentionBadge(string name) => Conversation(name).Locator(".mention-badge");

    /// <summary>The row of the message whose text contains <paramref name="text"/>.</summary>
    public ILocator Message(string text) => Page.Locator("#messages .msg", new() { Has = Page.Locator(".text", new() { HasText = text }) });

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
            ReducedMotion = ReducedMotion.Reduce, // drawers open at once: nothing is caught half-way in a screenshot or a click
            // An https chat uses a self-signed test certificate (tests/Shared/TestCertificates.cs).
            IgnoreHTTPSErrors = url.Scheme == Uri.UriSchemeHttps,
        });
        context.SetDefaultTimeout(15_000);
        IPage page = await context.NewPageAsync();
        var chat = new ChatPage(context, page, url, ownsContext: true);
        await page.GotoAsync(url.ToString());
        return chat;
    }

    /// <summary>Another tab of the same person: same context, so the same session cookie.</summary>
    public async Task<ChatPage> OpenTabAsync()
    {
        IPage page = await _context.NewPageAsync();
        var chat = new ChatPage(_context, page, Url, ownsContext: false);
        await page.GotoAsync(Url.ToString());
        return chat;
    }

    /// <summary>Creates an account on the sign-up form and waits until the chat is connected.</summary>
    public async Task SignUpAsync(string username, string password = Password, string? displayName = null)
    {
        await Expect(View).ToHaveAttributeAsync("data-view", "auth");
        await Page.ClickAsync("#auth-mode-signup");
        await Page.FillAsync("#auth-username", username);
        await Page.FillAsync("#auth-password", password);
        await Page.FillAsync("#auth-display-name", displayName ?? string.Empty);
        await Page.ClickAsync("#auth-submit");
        await WaitUntilConnectedAsync();
    }

    public async Task SignInAsync(string username, string password = Password)
    {
        await Expect(View).ToHaveAttributeAsync("data-view", "auth");
        await Page.ClickAsync("#auth-mode-signin");
        await Page.FillAsync("#auth-username", username);
        await Page.FillAsync("#auth-password", password);
        await Page.ClickAsync("#auth-submit");
        await WaitUntilConnectedAsync();
    }

    public async Task WaitUntilConnectedAsync()
    {
        await Expect(View).ToHaveAttributeAsync("data-view", "chat");
        await Expect(Connection).ToHaveAttributeAsync("data-state", "online");
        await Expect(Page.Locator("#composer")).Not.ToHaveClassAsync(new Regex("offline"));
    }

    /// <summary>Joins a room from the sidebar (or opens it when already a member) and waits until it is open.</summary>
    public async Task JoinRoomAsync(string room)
    {
        await ShowSidebarAsync();
        await Page.FillAsync("#join-room", room);
        await Page.PressAsync("#join-room", "Enter");
        await Expect(Title).ToHaveTextAsync($"#{room}");
    }

    /// <summary>Opens a direct conversation with a username from the sidebar and waits until it is open.</summary>
    public async Task OpenDirectAsync(string username)
    {
        await ShowSidebarAsync();
        await Page.FillAsync("#dm-username", username);
        await Page.PressAsync("#dm-username", "Enter");
        await Expect(Page.Locator("#conversation-subtitle")).ToContainTextAsync($"@{username}");
    }

    /// <summary>Opens a conversation the sidebar lists: a room by name, a direct conversation by username.</summary>
    public async Task OpenConversationAsync(string name)
    {
        await ShowSidebarAsync();
        await Conversation(name).ClickAsync();
        await Expect(Conversation(name)).ToHaveAttributeAsync("aria-current", "true");
    }

    /// <summary>Types a message and presses Enter, as a person would.</summary>
    public async Task SayAsync(string text)
    {
        await Page.Locator("#text").FillAsync(text);
        await Page.Locator("#text").PressAsync("Enter");
    }

    /// <summary>Queues many messages at once through the composer (each still goes out one at a time, in order).</summary>
    public Task SayManyAsync(IEnumerable<string> texts) => Page.EvaluateAsync(
        """
        texts => {
          const box = document.getElementById('text');
          const form = document.getElementById('composer');
          for (const text of texts) { box.value = text; form.requestSubmit(); }
        }
        """,
        texts.ToArray());

    /// <summary>Pretends the tab was hidden or shown again (what switching tabs or minimising does).</summary>
    public Task SetHiddenAsync(bool hidden) => Page.EvaluateAsync(
        """
        hidden => {
          Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
          Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => hidden ? 'hidden' : 'visible' });
          document.dispatchEvent(new Event('visibilitychange'));
        }
        """,
        hidden);

    /// <summary>
    /// Replaces window.Notification (from the next load on, then reloads) with a recorder: permission starts
    /// "default", requestPermission() grants it and is counted in window.__permissionRequests, and every notification
    /// made is kept in window.__notifications as {title, body, tag}. Call before signing in.
    /// </summary>
    public async Task RecordNotificationsAsync()
    {
        await Page.AddInitScriptAsync(
            """
            (() => {
              window.__notifications = [];
              window.__permissionRequests = 0;
              class RecordedNotification extends EventTarget {
                static permission = 'default';
                static requestPermission() {
                  window.__permissionRequests++;
                  RecordedNotification.permission = 'granted';
                  return Promise.resolve('granted');
                }
                constructor(title, options = {}) {
                  super();
                  this.title = title;
                  window.__notifications.push({ title, body: options.body ?? '', tag: options.tag ?? '' });
                }
                close() {}
              }
              Object.defineProperty(window, 'Notification', { configurable: true, writable: true, value: RecordedNotification });
            })();
            """);
        await Page.ReloadAsync();
    }

    /// <summary>The notifications made since the page loaded (see <see cref="RecordNotificationsAsync"/>), as "title: body".</summary>
    public Task<string[]> NotificationsAsync() =>
        Page.EvaluateAsync<string[]>("() => window.__notifications.map(n => `${n.title}: ${n.body}`)");

    public Task<int> PermissionRequestsAsync() => Page.EvaluateAsync<int>("() => window.__permissionRequests");

    /// <summary>Opens the account menu and picks an item by its id.</summary>
    public async Task ChooseFromMenuAsync(string itemId)
    {
        await Page.ClickAsync("#menu-button");
        await Page.ClickAsync($"#{itemId}");
    }

    public Task ScreenshotAsync(string path) => Page.ScreenshotAsync(new PageScreenshotOptions { Path = path });

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_ownsContext)
        {
            await _context.DisposeAsync();
        }
        else
        {
            await Page.CloseAsync();
        }
    }

    private void Record(bool sent, string? text)
    {
        lock (_frames)
        {
            _frames.Add((sent, text ?? string.Empty));
        }
    }

    // On a phone the sidebar is a drawer: open it when it is not on screen.
    private async Task ShowSidebarAsync()
    {
        if (!await Page.Locator("#join-room").IsVisibleAsync() || !await IsInViewportAsync("#join-room"))
        {
            await Page.ClickAsync("#sidebar-toggle");
            await Expect(Page.Locator("#join-room")).ToBeInViewportAsync();
        }
    }

    private Task<bool> IsInViewportAsync(string selector) => Page.EvaluateAsync<bool>(
        """
        selector => {
          const box = document.querySelector(selector).getBoundingClientRect();
          return box.right > 0 && box.left < window.innerWidth && box.width > 0;
        }
        """,
        selector);

    [GeneratedRegex(@"Failed to load resource: the server responded with a status of 4(01|09|29)")]
    private static partial Regex ExpectedHttpError();
}
