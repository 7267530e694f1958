using Microsoft.Playwright;

namespace Tern.Chat.Tests.Browser;

/// <summary>
/// One headless Chromium for all browser tests: Debian's chromium package driven by Playwright through
/// ExecutablePath (no browser download). Set CHROMIUM_PATH to use another binary.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private static readonly string[] s_candidates = ["/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser"];

    public IPlaywright Playwright { get; private set; } = null!;

    public IBrowser Browser { get; private set; } = null!;

    public string ScreenshotDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "screenshots");

    public async Task InitializeAsync()
    {
        string? executable = Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } configured ? configured : s_candidates.FirstOrDefault(File.Exists);
        if (executable is null || !File.Exists(executable))
        {
            throw new InvalidOperationException(
                "The browser tests need Chromium: run `apt-get install -y chromium` (test.sh does), or set CHROMIUM_PATH.");
        }

        Directory.CreateDirectory(ScreenshotDirectory);
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = executable,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        Console.WriteLine($"Browser tests use Chromium {Browser.Version} from {executable}");
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        Playwright?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "browser";
}
