using System.Diagnostics;
using System.Threading.Channels;

namespace Tern.Tests.TestSupport;

/// <summary>
/// The Tern.TestHost program (tests/Tern.TestHost) running in its own process: a Tern echo server driven through
/// stdin commands, for tests about the process rather than the library.
/// </summary>
internal sealed class TestHostProcess : IAsyncDisposable
{
    private static readonly SemaphoreSlim s_buildLock = new(1, 1);
    private static bool s_built;

    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly System.Text.StringBuilder _stderr = new();

    private TestHostProcess(Process process)
    {
        _process = process;
    }

    public int Port { get; private set; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>
    /// Starts the host with <paramref name="arguments"/> and waits until it listens. With <paramref name="fileLimit"/>,
    /// the host runs under <c>ulimit -n</c> of that many descriptors (bash execs into it, so the process is the host).
    /// </summary>
    public static async Task<TestHostProcess> StartAsync(string[]? arguments = null, int? fileLimit = null)
    {
        string dll = await EnsureBuiltAsync();
        var startInfo = new ProcessStartInfo(fileLimit is null ? "dotnet" : "bash")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (fileLimit is { } limit)
        {
            startInfo.ArgumentList.Add("-c");
            startInfo.ArgumentList.Add($"ulimit -n {limit.ToString(System.Globalization.CultureInfo.InvariantCulture)} && exec dotnet \"$@\"");
            startInfo.ArgumentList.Add("bash");
        }

        startInfo.ArgumentList.Add(dll);
        foreach (string argument in arguments ?? [])
        {
            startInfo.ArgumentList.Add(argument);
        }

        var host = new TestHostProcess(new Process { StartInfo = startInfo });
        host._process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                host._lines.Writer.TryComplete();
            }
            else
            {
                host._lines.Writer.TryWrite(e.Data);
            }
        };
        host._process.ErrorDataReceived += (_, e) =>
        {
            lock (host._stderr)
            {
                host._stderr.AppendLine(e.Data);
            }
        };
        host._process.Start();
        host._process.BeginOutputReadLine();
        host._process.BeginErrorReadLine();
        string listening = await host.ReadLineAsync(TimeSpan.FromSeconds(30));
        Assert.StartsWith("listening ", listening);
        host.Port = int.Parse(listening["listening ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        return host;
    }

    /// <summary>Sends a command line to the host's stdin.</summary>
    public async Task SendAsync(string command)
    {
        await _process.StandardInput.WriteLineAsync(command);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Sends a command and returns the line the host answers with.</summary>
    public async Task<string> QueryAsync(string command)
    {
        await SendAsync(command);
        return await ReadLineAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>The host's resident memory now, in bytes (VmRSS; Linux only).</summary>
    public long ResidentBytes()
    {
        string line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    /// <summary>The next line the host printed; fails the test after <paramref name="timeout"/>.</summary>
    public async Task<string> ReadLineAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            return await _lines.Reader.ReadAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The test host printed nothing within {timeout.TotalSeconds} s. stderr:\n{StandardError}");
            throw;
        }
        catch (ChannelClosedException)
        {
            Assert.Fail($"The test host closed its output. stderr:\n{StandardError}");
            throw;
        }
    }

    /// <summary>Waits for the process to exit; returns false when it is still running after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }

    /// <summary>
    /// Finds Tern.TestHost.dll built with the same configuration as these tests, building it first when it is
    /// missing or was built against another Tern.dll than the one under test (e.g. only the test project was built).
    /// </summary>
    private static async Task<string> EnsureBuiltAsync()
    {
        // The tests run from tests/Tern.Tests/bin/<Configuration>/<tfm>/; the host builds to the same place under its project.
        string testsBin = RepositoryPaths.Combine("tests", "Tern.Tests", "bin");
        string relative = Path.GetRelativePath(testsBin, AppContext.BaseDirectory);
        string configuration = relative.Split(Path.DirectorySeparatorChar)[0];
        string hostDirectory = RepositoryPaths.Combine("tests", "Tern.TestHost");
        string hostOutput = Path.Combine(hostDirectory, "bin", relative);
        string dll = Path.Combine(hostOutput, "Tern.TestHost.dll");
        await s_buildLock.WaitAsync();
        try
        {
            if (s_built)
            {
                return dll;
            }

            if (!SameFile(Path.Combine(AppContext.BaseDirectory, "Tern.dll"), Path.Combine(hostOutput, "Tern.dll")) || !File.Exists(dll))
            {
                ChildProcessResult build = await ChildProcess.RunAsync("dotnet", ["build", "-c", configuration, "--nologo", "-v", "q"], hostDirectory, TimeSpan.FromMinutes(3));
                Assert.True(build.ExitCode == 0, $"Building Tern.TestHost failed: {build}");
            }

            Assert.True(File.Exists(dll), $"{dll} is missing after the build.");
            s_built = true;
            return dll;
        }
        finally
        {
            s_buildLock.Release();
        }
    }

    private static bool SameFile(string a, string b) =>
        File.Exists(a) && File.Exists(b) && File.ReadAllBytes(a).AsSpan().SequenceEqual(File.ReadAllBytes(b));
}
