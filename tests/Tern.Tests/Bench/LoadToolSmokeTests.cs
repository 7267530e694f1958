using System.Diagnostics;
using Tern.Tests.Conformance;
using Tern.Tests.TestSupport;
using Tern.TestSupport;

namespace Tern.Tests.Bench;

/// <summary>
/// A second-long run of each mode of the load generator (bench/Tern.Load) against an in-process Tern server, plain and
/// over wss, and of its --raw modes against the raw TCP server (bench/peers/raw-tcp), so the tools keep building and
/// working. Not a benchmark: nothing here measures speed.
/// </summary>
public class LoadToolSmokeTests
{
    private static readonly Lazy<string> Tool = new(BuildTool);
    private static readonly Lazy<string> RawServer = new(BuildRawServer);

    private static string BuildTool()
    {
        string directory = RepositoryPaths.Combine("bench", "Tern.Load");
        (int exit, string output) = Run("make", $"-C {directory} -s test", TimeSpan.FromMinutes(2));
        Assert.True(exit == 0, $"make test failed:\n{output}");
        return Path.Combine(directory, "bin", "tern-load");
    }

    private static string BuildRawServer()
    {
        string directory = RepositoryPaths.Combine("bench", "peers", "raw-tcp");
        (int exit, string output) = Run("make", $"-C {directory} -s", TimeSpan.FromMinutes(2));
        Assert.True(exit == 0, $"make failed:\n{output}");
        return Path.Combine(directory, "bin", "raw-tcp-server");
    }

    private static (int Exit, string Output) Run(string file, string arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {arguments} did not finish within {timeout}");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static async Task<TestServer> StartEchoAndBroadcastAsync(Action<WebSocketServerOptions>? configure = null) =>
        await TestServer.StartAsync(server =>
        {
            server.Map("/broadcast", async (connection, ct) =>
            {
                await foreach (WebSocketMessage message in connection.ReadMessagesAsync(ct))
                {
                    IEnumerable<WebSocketConnection> subscribers = server.Connections.Where(c => c.Path == "/broadcast");
                    await (message.IsText
                        ? server.BroadcastTextAsync(message.Data, subscribers, ct)
                        : server.BroadcastBinaryAsync(message.Data, subscribers, ct));
                }
            });
            TestServer.MapEcho(server);
        }, options =>
        {
            options.MaxMessageSize = 4 * 1024 * 1024;
            configure?.Invoke(options);
        });

    /// <summary>Runs the tool against the server for a second; returns its RESULT line after checking it had no error.</summary>
    private static async Task<string> RunWithoutErrorsAsync(TestServer server, string arguments)
    {
        string tool = Tool.Value;
        int pid = Environment.ProcessId;
        (int exit, string output) = await Task.Run(() =>
            Run(tool, $"{arguments} --port {server.Port} --duration 1 --warmup 0 --server-pid {pid}", TimeSpan.FromSeconds(60)));
        Assert.True(exit == 0, $"tern-load {arguments} exited {exit}:\n{output}");
        string result = output.Split('\n').Last(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
        Assert.Contains("errors=0", result);
        if (arguments.Contains("--greet", StringComparison.Ordinal))
        {
            Assert.Contains("greeted=50", result.Split(' ')); // every connection echoed its message before idling
        }

        return result;
    }

    [Theory]
    [InlineData("--mode echo --conns 4 --inflight 4 --size 32 --verify")]
    [InlineData("--mode echo --conns 2 --size 1M --binary --frame-size 64K --verify")]
    [InlineData("--mode broadcast --conns 20 --size 64 --verify")]
    [InlineData("--mode connect --conns 4")]
    [InlineData("--mode hold --conns 50 --ping-interval 0.2 --settle 0.2")]
    [InlineData("--mode hold --conns 50 --ping-interval 0.2 --settle 0.2 --greet --payload chat300")]
    [InlineData("--mode echo --conns 4 --payload chat16k --verify")]
    public async Task Each_mode_runs_without_errors(string arguments)
    {
        await using TestServer server = await StartEchoAndBroadcastAsync();
        await RunWithoutErrorsAsync(server, arguments);
    }

    [Theory]
    [InlineData("--mode echo --conns 4 --inflight 4 --size 32 --verify")]
    [InlineData("--mode echo --conns 2 --size 256K --binary --frame-size 64K --verify --tls-suites TLS_AES_128_GCM_SHA256")]
    [InlineData("--mode echo --conns 2 --size 100K --verify --tls-max 1.2")]
    [InlineData("--mode broadcast --conns 20 --size 64 --verify")]
    [InlineData("--mode connect --conns 4")]
    [InlineData("--mode hold --conns 50 --ping-interval 0.2 --settle 0.2 --greet --size 100K")]
    public async Task Each_mode_runs_over_wss_without_errors(string arguments)
    {
        await using TestServer server = await StartEchoAndBroadcastAsync(options => options.Tls = TestCertificates.ServerOptions());
        string result = await RunWithoutErrorsAsync(server, $"{arguments} --tls");
        Assert.Contains("tls=1", result);
    }

    [Theory]
    [InlineData("--mode echo --conns 4 --inflight 4 --payload chat300 --verify", false)]
    [InlineData("--mode echo --conns 2 --payload chat16k --verify --tls", true)]
    [InlineData("--mode echo --conns 2 --size 200K --frame-size 16K --binary --verify", false)]
    [InlineData("--mode broadcast --conns 20 --size 2000 --verify", false)]
    [InlineData("--mode hold --conns 50 --ping-interval 0.2 --settle 0.2 --greet --payload chat300", false)]
    public async Task Each_mode_runs_with_permessage_deflate(string arguments, bool tls)
    {
        await using TestServer server = await StartEchoAndBroadcastAsync(options =>
        {
            options.Compression = new WebSocketCompressionOptions { MinimumMessageSize = 0 };
            if (tls)
            {
                options.Tls = TestCertificates.ServerOptions();
            }
        });
        string result = await RunWithoutErrorsAsync(server, $"{arguments} --deflate");
        // Every message the server sent came back compressed, and none plain.
        Assert.Contains("uncompressed_received=0", result.Split(' '));
        Assert.DoesNotContain("compressed_received=0", result.Split(' '));
    }

    /// <summary>
    /// samples/Tern.Echo as bench/run.sh starts it: with --deflate alone a 294-byte message comes back uncompressed
    /// (Tern's 1 KiB threshold), none compressed; with --deflate-min-size 256 every echo comes back compressed.
    /// </summary>
    [Theory]
    [InlineData(null, "compressed_received=0")]
    [InlineData("256", "uncompressed_received=0")]
    public async Task Echo_sample_compresses_from_its_deflate_min_size(string? minimum, string expected)
    {
        string tool = Tool.Value;
        string[] arguments = minimum is null ? ["--deflate"] : ["--deflate", "--deflate-min-size", minimum];
        await using EchoSampleProcess sample = await EchoSampleProcess.StartAsync(1024 * 1024, arguments);
        (int exit, string output) = await Task.Run(() => Run(tool,
            $"--mode echo --conns 1 --payload chat300 --deflate --verify --messages 100 --port {sample.Port} --duration 10 --warmup 0",
            TimeSpan.FromSeconds(60)));
        Assert.True(exit == 0, $"tern-load exited {exit}:\n{output}");
        string[] result = output.Split('\n').Last(l => l.StartsWith("RESULT ", StringComparison.Ordinal)).Split(' ');
        Assert.Contains("errors=0", result);
        Assert.Contains(expected, result);
    }

    [Theory]
    [InlineData("echo", "--mode echo --conns 4 --inflight 4 --size 32 --verify")]
    [InlineData("echo", "--mode echo --conns 2 --size 1M --verify")]
    [InlineData("broadcast", "--mode broadcast --conns 20 --size 64 --verify")]
    [InlineData("echo", "--mode connect --conns 4")]
    [InlineData("echo", "--mode hold --conns 50 --ping-interval 0.2 --settle 0.2")]
    public async Task Each_raw_mode_runs_without_errors(string serverMode, string arguments)
    {
        string tool = Tool.Value;
        var start = new ProcessStartInfo(RawServer.Value, $"--port 0 --mode {serverMode}") { RedirectStandardOutput = true };
        using Process server = Process.Start(start)!;
        try
        {
            // The server's first line names the port it picked: "raw-tcp-server echo on 127.0.0.1:PORT".
            string? banner = await server.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.NotNull(banner);
            string port = banner[(banner.LastIndexOf(':') + 1)..];
            (int exit, string output) = await Task.Run(() =>
                Run(tool, $"--raw {arguments} --port {port} --duration 1 --warmup 0 --server-pid {server.Id}", TimeSpan.FromSeconds(60)));
            Assert.True(exit == 0, $"tern-load --raw {arguments} exited {exit}:\n{output}");
            string result = output.Split('\n').Last(l => l.StartsWith("RESULT ", StringComparison.Ordinal));
            Assert.Contains("errors=0", result);
            // Hold counts pongs, not messages; every other mode must have moved something.
            string rate = result.Split(' ').Single(field => field.StartsWith("rate=", StringComparison.Ordinal));
            Assert.True(arguments.Contains("--mode hold", StringComparison.Ordinal) || rate != "rate=0.0", result);
        }
        finally
        {
            server.Kill();
            await server.WaitForExitAsync();
        }
    }
}
