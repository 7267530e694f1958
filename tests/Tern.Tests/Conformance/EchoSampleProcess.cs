using System.Diagnostics;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Conformance;

/// <summary>
/// samples/Tern.Echo started as a user would start it, in its own process, for running the conformance cases against
/// the sample itself (TERN_CONFORMANCE_ECHO_SAMPLE=1). What the server side did is read from its log: the
/// connections it opened and closed, and anything it logged at Error (fail) or Critical (crit).
/// </summary>
internal sealed partial class EchoSampleProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _startup = Channel.CreateUnbounded<string>();
    private readonly List<string> _lines = new();
    private int _taken;

    private EchoSampleProcess(Process process)
    {
        _process = process;
    }

    public int Port { get; private set; }

    /// <summary>Connections the sample logged as opened and not yet as closed.</summary>
    public int OpenConnections
    {
        get
        {
            lock (_lines)
            {
                return _lines.Count(l => l.Contains(" opened from ", StringComparison.Ordinal)) - _lines.Count(l => ClosedLine().IsMatch(l));
            }
        }
    }

    /// <summary>The sample built alongside the tests (they run from tests/Tern.Tests/bin/&lt;configuration&gt;/net10.0).</summary>
    public static string SampleDll()
    {
        string configuration = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)))!;
        string dll = RepositoryPaths.Combine("samples", "Tern.Echo", "bin", configuration, "net10.0", "Tern.Echo.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build the solution first (dotnet build Tern.slnx -c {configuration}).");
        return dll;
    }

    /// <summary>Starts the sample on a free port; <paramref name="extraArguments"/> go on its command line (--cert, --key...).</summary>
    public static async Task<EchoSampleProcess> StartAsync(long maxMessageSize, params string[] extraArguments)
    {
        string dll = SampleDll();
        var startInfo = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // --verbose: the connection opened and closed lines (Debug) are how this harness sees the server's side.
        foreach (string argument in (string[])[dll, "--port", "0", "--verbose", "--max-message", maxMessageSize.ToString(System.Globalization.CultureInfo.InvariantCulture), .. extraArguments])
        {
            startInfo.ArgumentList.Add(argument);
        }

        var sample = new EchoSampleProcess(new Process { StartInfo = startInfo });
        sample._process.OutputDataReceived += (_, e) => sample.Record(e.Data);
        sample._process.ErrorDataReceived += (_, e) => sample.Record(e.Data);
        sample._process.Start();
        sample._process.BeginOutputReadLine();
        sample._process.BeginErrorReadLine();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            string line = await sample._startup.Reader.ReadAsync(deadline.Token);
            Match listening = ListeningLine().Match(line);
            if (listening.Success)
            {
                sample.Port = int.Parse(listening.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
                sample.ListeningUri = $"{listening.Groups[1].Value}://127.0.0.1:{sample.Port}/";
                return sample;
            }
        }
    }

    /// <summary>Error and Critical lines logged since the last call.</summary>
    public string[] TakeErrors()
    {
        lock (_lines)
        {
            string[] errors = _lines.Skip(_taken).Where(l => l.Contains(" fail: ", StringComparison.Ordinal) || l.Contains(" crit: ", StringComparison.Ordinal)).ToArray();
            _taken = _lines.Count;
            return errors;
        }
    }

    private void Record(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lines)
        {
            _lines.Add(line);
        }

        _startup.Writer.TryWrite(line);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    /// <summary>The URI the sample announced (ws or wss).</summary>
    public string ListeningUri { get; private set; } = "";

    [GeneratedRegex(@"listening on (wss?)://[^ ]*:(\d+)/")]
    private static partial Regex ListeningLine();

    [GeneratedRegex(@"Connection \d+ closed")]
    private static partial Regex ClosedLine();
}
