using System.Net;
using System.Net.Sockets;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Integration;

/// <summary>The Tern.Chat executable as a user runs it: its output, its exit codes, and how it stops.</summary>
public sealed class ProgramTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "tern-chat-program-" + Guid.NewGuid().ToString("N"));

    public ProgramTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Help_lists_the_options_and_exits_with_0()
    {
        using ChatProcess chat = ChatProcess.Start(_directory, "--help");

        int exitCode = await chat.WaitForExitAsync();

        Assert.Equal(0, exitCode);
        Assert.Contains("--port <port>", chat.Output, StringComparison.Ordinal);
        Assert.Contains("TERN_CHAT_DB", chat.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_option_is_explained_and_exits_with_2()
    {
        using ChatProcess chat = ChatProcess.Start(_directory, "--prot", "80");

        int exitCode = await chat.WaitForExitAsync();

        Assert.Equal(2, exitCode);
        Assert.Contains("Unknown option '--prot'.", chat.Errors, StringComparison.Ordinal);
    }

    [UnixFact]
    public async Task It_prints_the_url_serves_the_page_and_stops_cleanly_on_sigterm()
    {
        using ChatProcess chat = ChatProcess.Start(_directory, "--port", "0", "--host", "127.0.0.1", "--db", "history.db");

        Uri url = await chat.WaitForUrlAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string page = await http.GetStringAsync(url);
        Assert.Contains("<title>Tern.Chat</title>", page, StringComparison.Ordinal);
        Assert.Equal(0, chat.Signal(Posix.SigTerm));
        int exitCode = await chat.WaitForExitAsync();

        Assert.Equal(0, exitCode);
        Assert.Contains("Stopped.", chat.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_directory, "history.db")));
    }

    [UnixFact]
    public async Task It_logs_each_connection_opening_and_closing_with_the_reason_escaped()
    {
        using ChatProcess chat = ChatProcess.Start(_directory, "--port", "0", "--host", "127.0.0.1", "--db", ":memory:");
        Uri url = await chat.WaitForUrlAsync();
        string origin = $"http://{url.Authority}";
        var cookies = new CookieContainer();
        using (var http = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = url, Timeout = TimeSpan.FromSeconds(20) })
        {
            http.DefaultRequestHeaders.Add("Origin", origin);
            Assert.Equal(HttpStatusCode.Created, (await http.PostJsonAsync("/api/signup", new { username = "logger", password = "a long passphrase" })).StatusCode);
        }

        using (var client = new System.Net.WebSockets.ClientWebSocket())
        {
            client.Options.Cookies = cookies;
            client.Options.SetRequestHeader("Origin", origin);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await client.ConnectAsync(new Uri($"ws://{url.Authority}/chat"), timeout.Token);
            await chat.WaitForOutputAsync(" opened from 127.0.0.1:");
            await client.CloseAsync((System.Net.WebSockets.WebSocketCloseStatus)4000, "bye\r\nforged line", timeout.Token);
        }

        await chat.WaitForOutputAsync(" closed: 4000 bye\\r\\nforged line");
        Assert.DoesNotContain("\nforged line", chat.Output, StringComparison.Ordinal);
        Assert.Equal(0, chat.Signal(Posix.SigTerm));
        Assert.Equal(0, await chat.WaitForExitAsync());
    }

    [UnixFact]
    public async Task Ctrl_c_stops_it_cleanly_and_the_environment_sets_the_options()
    {
        using ChatProcess chat = ChatProcess.Start(_directory, new Dictionary<string, string>
        {
            ["TERN_CHAT_PORT"] = "0",
            ["TERN_CHAT_HOST"] = "127.0.0.1",
            ["TERN_CHAT_DB"] = ":memory:",
            ["TERN_CHAT_TRUSTEDPROXIES"] = "127.0.0.1, 10.0.0.0/8",
        });

        Uri url = await chat.WaitForUrlAsync();
        Assert.Equal("127.0.0.1", url.Host);
        await chat.WaitForOutputAsync("Client addresses: from X-Forwarded-For on requests from 127.0.0.1, 10.0.0.0/8.");
        // The history line is printed after the URL line, and the output arrives line by line.
        await chat.WaitForOutputAsync("History: memory");
        Assert.Equal(0, chat.Signal(Posix.SigInt));

        Assert.Equal(0, await chat.WaitForExitAsync());
    }

    [Fact]
    public async Task A_bad_trusted_proxy_is_named_and_exits_with_2()
    {
        using ChatProcess chat = ChatProcess.Start(_directory, "--trusted-proxies", "127.0.0.1,proxy.internal", "--db", ":memory:");

        Assert.Equal(2, await chat.WaitForExitAsync());
        Assert.Contains("'proxy.internal' is not a trusted proxy", chat.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_port_in_use_is_reported_with_exit_code_1()
    {
        using var occupant = new TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        int port = ((IPEndPoint)occupant.LocalEndpoint).Port;

        using ChatProcess chat = ChatProcess.Start(_directory, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--host", "127.0.0.1", "--db", ":memory:");

        Assert.Equal(1, await chat.WaitForExitAsync());
        Assert.Contains($"Port {port} is already in use.", chat.Errors, StringComparison.Ordinal);
    }
}

/// <summary>A fact that needs POSIX signals; skipped on Windows.</summary>
public sealed class UnixFactAttribute : FactAttribute
{
    public UnixFactAttribute()
    {
        if (OperatingSystem.IsWindows())
        {
            Skip = "Needs POSIX signals.";
        }
    }
}
