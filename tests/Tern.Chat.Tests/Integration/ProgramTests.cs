using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Tern.Chat.Tests.Support;

namespace Tern.Chat.Tests.Integration;

/// <summary>The Tern.Chat executable as a user runs it: its output, its exit codes, and how it stops.</summary>
public sealed partial class ProgramTests : IDisposable
{
    private const int SigInt = 2;
    private const int SigTerm = 15;

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
        Assert.Equal(0, kill(chat.Id, SigTerm));
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
        Assert.Equal(0, kill(chat.Id, SigTerm));
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
        });

        Uri url = await chat.WaitForUrlAsync();
        Assert.Equal("127.0.0.1", url.Host);
        // The history line is printed after the URL line, and the output arrives line by line.
        await chat.WaitForOutputAsync("History: memory");
        Assert.Equal(0, kill(chat.Id, SigInt));

        Assert.Equal(0, await chat.WaitForExitAsync());
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

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054 // a plain P/Invoke is enough for a test
    private static extern int kill(int pid, int signal);
#pragma warning restore SYSLIB1054

    [GeneratedRegex(@"live at (http://\S+)")]
    private static partial Regex UrlLine();

    private sealed class ChatProcess : IDisposable
    {
        private readonly Process _process;
        private readonly System.Text.StringBuilder _output = new();
        private readonly System.Text.StringBuilder _errors = new();

        private ChatProcess(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) =>
            {
                lock (_output)
                {
                    _output.AppendLine(e.Data);
                }
            };
            process.ErrorDataReceived += (_, e) =>
            {
                lock (_errors)
                {
                    _errors.AppendLine(e.Data);
                }
            };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public int Id => _process.Id;

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public string Errors
        {
            get
            {
                lock (_errors)
                {
                    return _errors.ToString();
                }
            }
        }

        public static ChatProcess Start(string workingDirectory, params string[] args) => Start(workingDirectory, new Dictionary<string, string>(), args);

        public static ChatProcess Start(string workingDirectory, Dictionary<string, string> environment, params string[] args)
        {
            // A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored across exec: when
            // ./test.sh ran from a background script, the chat started here ignored SIGINT and this test hung. GNU env
            // puts SIGINT back to its default (env execs, so the pid stays the chat's).
            bool resetSigInt = OperatingSystem.IsLinux() && File.Exists("/usr/bin/env");
            var info = new ProcessStartInfo(resetSigInt ? "/usr/bin/env" : "dotnet")
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (resetSigInt)
            {
                info.ArgumentList.Add("--default-signal=INT");
                info.ArgumentList.Add("dotnet");
            }

            info.ArgumentList.Add(typeof(ChatApp).Assembly.Location);
            foreach (string arg in args)
            {
                info.ArgumentList.Add(arg);
            }

            foreach (string name in new[] { "TERN_CHAT_PORT", "TERN_CHAT_HOST", "TERN_CHAT_DB" })
            {
                info.Environment.Remove(name);
            }

            foreach ((string name, string value) in environment)
            {
                info.Environment[name] = value;
            }

            return new ChatProcess(Process.Start(info)!);
        }

        public async Task<Uri> WaitForUrlAsync()
        {
            // Output arrives in whole lines, so once the start of the URL line is there, all of it is.
            await WaitForOutputAsync("Tern.Chat is live at ");
            return new Uri(UrlLine().Match(Output).Groups[1].Value);
        }

        public async Task WaitForOutputAsync(string expected)
        {
            DateTime deadline = DateTime.UtcNow.AddSeconds(30);
            while (!Output.Contains(expected, StringComparison.Ordinal))
            {
                if (_process.HasExited)
                {
                    _process.WaitForExit(); // flushes the redirected output
                    Assert.True(Output.Contains(expected, StringComparison.Ordinal),
                        $"Tern.Chat exited without printing '{expected}'. Output: {Output} Errors: {Errors}");
                    return;
                }

                if (DateTime.UtcNow >= deadline)
                {
                    Assert.Fail($"Tern.Chat did not print '{expected}'. Output: {Output} Errors: {Errors}");
                }

                await Task.Delay(20);
            }
        }

        public async Task<int> WaitForExitAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"Tern.Chat is still running after 30 s. Output: {Output} Errors: {Errors}");
            }

            _process.WaitForExit(); // flushes the redirected output
            return _process.ExitCode;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.Dispose();
        }
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
