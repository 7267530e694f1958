using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tern.Chat.Tests.Support;

/// <summary>
/// Debian's nginx in front of Tern.Chat nodes, as docs/scale-out.md runs it: the configuration is
/// scripts/nginx.conf.template (copied next to the tests), nginx runs in the foreground as a child process with its
/// files in a temp directory, on a free loopback port, and is stopped with SIGTERM when disposed.
/// </summary>
public sealed class NginxProxy : IAsyncDisposable
{
    private const string InstallHint = "The multi-node tests need nginx: run `apt-get install -y nginx` (test.sh does), or set TERN_NGINX to the nginx program.";

    private readonly string _directory;
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private NginxProxy(string directory, Process process, int port)
    {
        _directory = directory;
        _process = process;
        Port = port;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Port { get; }

    /// <summary>The page's address through nginx.</summary>
    public Uri Url => new($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}/");

    /// <summary>The configuration nginx runs with.</summary>
    public string Configuration => File.ReadAllText(Path.Combine(_directory, "nginx.conf"));

    /// <summary>Starts nginx with one upstream server per port and waits until it accepts connections.</summary>
    public static async Task<NginxProxy> StartAsync(IEnumerable<int> upstreamPorts)
    {
        string nginx = FindNginx() ?? throw new InvalidOperationException(InstallHint);
        string directory = Path.Combine(Path.GetTempPath(), "tern-nginx-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        int port = LoopbackPort.Free();
        string servers = string.Join('\n', upstreamPorts.Select(p => $"        server 127.0.0.1:{p.ToString(CultureInfo.InvariantCulture)} max_fails=1 fail_timeout=5s;"));
        string template = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "nginx.conf.template"));
        await File.WriteAllTextAsync(Path.Combine(directory, "nginx.conf"), template
            .Replace("@DIR@", directory, StringComparison.Ordinal)
            .Replace("@PORT@", port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("@SERVERS@", servers, StringComparison.Ordinal));

        var info = new ProcessStartInfo(nginx)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in (string[])["-c", Path.Combine(directory, "nginx.conf"), "-p", directory, "-e", Path.Combine(directory, "error.log")])
        {
            info.ArgumentList.Add(argument);
        }

        if (Environment.UserName == "root")
        {
            // Workers would otherwise run as nobody, who cannot enter the temp directory.
            info.ArgumentList.Add("-g");
            info.ArgumentList.Add("user root;");
        }

        var proxy = new NginxProxy(directory, Process.Start(info)!, port);
        try
        {
            await proxy.WaitUntilListeningAsync();
            return proxy;
        }
        catch
        {
            await proxy.DisposeAsync();
            throw;
        }
    }

    /// <summary>nginx's own output and error log, for failure messages.</summary>
    public string Describe()
    {
        string log = Path.Combine(_directory, "error.log");
        string errors = File.Exists(log) ? File.ReadAllText(log) : "";
        lock (_output)
        {
            return $"nginx output: {_output} nginx error.log: {errors}";
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                // SIGTERM: nginx's fast shutdown, which closes the proxied connections too.
                _ = Posix.Signal(_process.Id, Posix.SigTerm);
                using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try
                {
                    await _process.WaitForExitAsync(cancel.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                    await _process.WaitForExitAsync();
                }
            }
        }
        finally
        {
            _process.Dispose();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static string? FindNginx()
    {
        if (Environment.GetEnvironmentVariable("TERN_NGINX") is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : null;
        }

        return ((string[])["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]).FirstOrDefault(File.Exists);
    }

    private async Task WaitUntilListeningAsync()
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit();
                throw new InvalidOperationException($"nginx exited ({_process.ExitCode}) at start. {Describe()}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }
    }

    private void Append(string? line)
    {
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
