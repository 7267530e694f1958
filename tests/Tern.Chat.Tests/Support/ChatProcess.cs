using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Tern.Chat.Tests.Support;

/// <summary>
/// The Tern.Chat program in a process of its own, started as a user starts it (<c>dotnet Tern.Chat.dll …</c>), its
/// output kept for assertions and failure messages. Disposing kills it if it is still running.
/// </summary>
public sealed partial class ChatProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _errors = new();

    private ChatProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(_output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(_errors, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output => Read(_output);

    public string Errors => Read(_errors);

    public static ChatProcess Start(string workingDirectory, params string[] args) => Start(workingDirectory, new Dictionary<string, string>(), args);

    public static ChatProcess Start(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        // A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored across exec: when
        // ./test.sh ran from a background script, the chat started here ignored SIGINT and a test hung. GNU env
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

        // The test run's own settings must not leak into the program under test.
        foreach (string name in info.Environment.Keys.Where(name => name.StartsWith("TERN_CHAT_", StringComparison.OrdinalIgnoreCase)).ToArray())
        {
            info.Environment.Remove(name);
        }

        foreach ((string name, string value) in environment)
        {
            info.Environment[name] = value;
        }

        return new ChatProcess(Process.Start(info)!);
    }

    /// <summary>Sends a POSIX signal; 0 when it was delivered (the libc kill's result).</summary>
    public int Signal(int signal) => Posix.Signal(_process.Id, signal);

    public async Task<Uri> WaitForUrlAsync(TimeSpan? timeout = null)
    {
        // Output arrives in whole lines, so once the start of the URL line is there, all of it is.
        await WaitForOutputAsync("Tern.Chat is live at ", timeout);
        return new Uri(UrlLine().Match(Output).Groups[1].Value);
    }

    public async Task WaitForOutputAsync(string expected, TimeSpan? timeout = null)
    {
        DateTime deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!Output.Contains(expected, StringComparison.Ordinal))
        {
            if (_process.HasExited)
            {
                _process.WaitForExit(); // flushes the redirected output
                Assert.True(Output.Contains(expected, StringComparison.Ordinal),
                    $"Tern.Chat exited ({_process.ExitCode}) without printing '{expected}'. {Describe()}");
                return;
            }

            if (DateTime.UtcNow >= deadline)
            {
                Assert.Fail($"Tern.Chat did not print '{expected}'. {Describe()}");
            }

            await Task.Delay(20);
        }
    }

    public async Task<int> WaitForExitAsync(TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"Tern.Chat is still running after {timeout ?? TimeSpan.FromSeconds(30)}. {Describe()}");
        }

        _process.WaitForExit(); // flushes the redirected output
        return _process.ExitCode;
    }

    /// <summary>SIGKILL, as when the machine or the OOM killer takes the process: nothing is flushed or closed. Waits until it is gone.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            Signal(Posix.SigKill);
        }

        await WaitForExitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>SIGTERM, and SIGKILL when it has not ended within <paramref name="grace"/>. Never throws.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        try
        {
            if (!_process.HasExited)
            {
                Signal(Posix.SigTerm);
                using var cancel = new CancellationTokenSource(grace);
                await _process.WaitForExitAsync(cancel.Token);
            }
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
            // Never started, or already reaped.
        }
    }

    /// <summary>The output and errors so far, for a failure message.</summary>
    public string Describe() => $"Output: {Output} Errors: {Errors}";

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }

        _process.Dispose();
    }

    private static void Append(StringBuilder text, string? line)
    {
        lock (text)
        {
            text.AppendLine(line);
        }
    }

    private static string Read(StringBuilder text)
    {
        lock (text)
        {
            return text.ToString();
        }
    }

    [GeneratedRegex(@"live at (http://\S+)")]
    private static partial Regex UrlLine();
}
