using System.Globalization;
using System.Net;
using System.Text;

namespace Tern.Chat.Tests.Support;

/// <summary>
/// One node of a Tern.Chat cluster: the program in a process of its own (<see cref="ChatProcess"/>) on a loopback
/// port, started the way a user starts it (<c>--port</c>, <c>--host</c>, <c>--postgres</c>), ready once it serves
/// its page. It can be killed (SIGKILL) or stopped (SIGTERM) and started again on the same port.
/// </summary>
public sealed class ChatNode : IAsyncDisposable
{
    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private readonly string _postgres;
    private readonly IReadOnlyDictionary<string, string> _environment;
    private readonly string _directory;
    private readonly StringBuilder _earlierOutput = new();
    private ChatProcess? _process;

    private ChatNode(string name, string postgres, IReadOnlyDictionary<string, string> environment)
    {
        Name = name;
        _postgres = postgres;
        _environment = environment;
        _directory = Path.Combine(Path.GetTempPath(), "tern-node-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    public string Name { get; }

    public int Port { get; private set; }

    public Uri Url => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/");

    /// <summary>How nginx names this node in <c>$upstream_addr</c>.</summary>
    public string Address => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Starts a node on a port of its own choosing (<c>--port 0</c>) and waits until it serves.</summary>
    public static async Task<ChatNode> StartAsync(string name, string postgres, IReadOnlyDictionary<string, string> environment)
    {
        var node = new ChatNode(name, postgres, environment);
        try
        {
            await node.StartProcessAsync(port: 0);
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGKILL: the process dies at once, closing nothing cleanly. Returns when it is gone.</summary>
    public Task KillAsync() => _process!.KillAsync();

    /// <summary>SIGTERM, as a deployment stops a node; SIGKILL if it has not ended within 10 s.</summary>
    public Task StopAsync() => _process!.StopAsync(TimeSpan.FromSeconds(10));

    /// <summary>Starts the node again on the port it had (after <see cref="KillAsync"/> or <see cref="StopAsync"/>).</summary>
    public async Task StartAgainAsync()
    {
        // Right after a kill the port can briefly refuse to bind again; the program then exits with 1, so try again.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await StartProcessAsync(Port);
                return;
            }
            catch (Exception) when (attempt < 20 && _process is { HasExited: true } && _process.Errors.Contains("already in use", StringComparison.Ordinal))
            {
                await Task.Delay(250);
            }
        }
    }

    /// <summary>What the node printed (every run of it), for failure messages.</summary>
    public string Describe()
    {
        lock (_earlierOutput)
        {
            return $"--- node {Name} ({Address}) ---\n{_earlierOutput}{_process?.Describe()}";
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            await _process.StopAsync(TimeSpan.FromSeconds(10));
            _process.Dispose();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task StartProcessAsync(int port)
    {
        if (_process is not null)
        {
            lock (_earlierOutput)
            {
                _earlierOutput.Append(_process.Describe()).AppendLine("--- (restarted) ---");
            }

            _process.Dispose();
        }

        _process = ChatProcess.Start(_directory, _environment,
            "--port", port.ToString(CultureInfo.InvariantCulture), "--host", "127.0.0.1", "--postgres", _postgres);
        Uri url = await _process.WaitForUrlAsync(TimeSpan.FromSeconds(60));
        Port = url.Port;
        using HttpResponseMessage page = await s_http.GetAsync(Url);
        Assert.True(page.StatusCode == HttpStatusCode.OK, $"Node {Name} answered its page with {(int)page.StatusCode}. {Describe()}");
    }
}
