using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Tern.Tests.TestSupport;
using Tern.TestSupport;
using Xunit.Abstractions;

namespace Tern.Tests.Interop;

/// <summary>
/// Interop with the Node <c>ws</c> library (pinned in tests/interop/node/package-lock.json), an independent client:
/// each test starts a Tern server, runs one case of tests/interop/node/client.js against it, and checks both sides.
/// </summary>
public sealed class NodeWsInteropTests(NodeWsEnvironment node, ITestOutputHelper output) : IClassFixture<NodeWsEnvironment>
{
    private const int SixteenMiB = 16 * 1024 * 1024;
    private static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("text", 0)]
    [InlineData("text", 125)]
    [InlineData("text", 126)]
    [InlineData("text", 65535)]
    [InlineData("text", 65536)]
    [InlineData("text", SixteenMiB)]
    [InlineData("binary", 0)]
    [InlineData("binary", 125)]
    [InlineData("binary", 126)]
    [InlineData("binary", 65535)]
    [InlineData("binary", 65536)]
    [InlineData("binary", SixteenMiB)]
    public async Task Messages_of_every_length_form_echo(string kind, int length)
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await RunCaseAsync(server, $"{kind}-{length}");
        await server.AssertClosedCleanlyAsync(WebSocketCloseCode.NormalClosure, "done");
    }

    [Fact]
    public async Task Text_with_every_utf8_width_echoes()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await RunCaseAsync(server, "text-utf8");
        await server.AssertClosedCleanlyAsync(WebSocketCloseCode.NormalClosure, "done");
    }

    [Fact]
    public async Task Fragmented_text_is_reassembled_across_a_split_code_point()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await RunCaseAsync(server, "fragmented-text");
        await server.AssertClosedCleanlyAsync(WebSocketCloseCode.NormalClosure, "done");
    }

    [Fact]
    public async Task Ping_in_the_middle_of_a_fragmented_message_is_answered_and_the_message_survives()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await RunCaseAsync(server, "fragmented-binary-with-ping");
        await server.AssertClosedCleanlyAsync(WebSocketCloseCode.NormalClosure, "done");
    }

    [Fact]
    public async Task Pings_get_pongs_with_the_same_payload()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await RunCaseAsync(server, "ping");
        await server.AssertClosedCleanlyAsync(WebSocketCloseCode.NormalClosure, "done");
    }

    [Fact]
    public async Task Client_close_code_and_reason_reach_the_server_and_the_code_is_echoed()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await RunCaseAsync(server, "client-close");
        await server.AssertClosedCleanlyAsync((WebSocketCloseCode)4000, "node says bye ✓");
    }

    [Fact]
    public async Task Server_close_code_and_reason_reach_the_client_and_its_answer_completes_the_handshake()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        ChildProcessResult result = await RunCaseAsync(server, "server-close");
        Assert.Contains("\"code\":4001", result.StandardOutput);
        // Tern's CloseInfo records the peer's answer: ws echoes the code and reason it received.
        await server.AssertClosedCleanlyAsync((WebSocketCloseCode)4001, "server says bye");
    }

    [Fact]
    public async Task Keepalive_pings_are_answered_by_ws_while_idle()
    {
        await using EchoServer server = await EchoServer.StartAsync(o =>
        {
            // ws idles 1.5 s: an unanswered ping would drop it by ~1.1 s; the rest is room for a loaded machine.
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(100);
            o.KeepAliveTimeout = TimeSpan.FromMilliseconds(1000);
        });
        await RunCaseAsync(server, "keepalive");
        await server.AssertClosedCleanlyAsync(WebSocketCloseCode.NormalClosure, "done");
    }

    [Fact]
    public async Task Pipelined_messages_echo_in_order()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        await RunCaseAsync(server, "pipelined");
        await server.AssertClosedCleanlyAsync(WebSocketCloseCode.NormalClosure, "done");
    }

    [Fact]
    public async Task Subprotocol_is_negotiated_and_permessage_deflate_is_declined()
    {
        await using EchoServer server = await EchoServer.StartAsync(o => o.Subprotocols.Add("chat.v1"));
        await RunCaseAsync(server, "subprotocol");
        await server.AssertClosedCleanlyAsync(WebSocketCloseCode.NormalClosure, "done");
    }

    [Fact]
    public async Task IPv6_loopback_serves_ws()
    {
        await using EchoServer server = await EchoServer.StartAsync(o =>
        {
            o.EndPoints.Clear();
            o.EndPoints.Add(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        });
        Assert.StartsWith("ws://[::1]:", server.Uri.ToString());
        await RunCaseAsync(server, "binary-65536");
        await server.AssertClosedCleanlyAsync(WebSocketCloseCode.NormalClosure, "done");
    }

    [Fact]
    public async Task Server_shutdown_reaches_ws_as_1001()
    {
        await using EchoServer server = await EchoServer.StartAsync();
        Task<ChildProcessResult> client = RunCaseAsync(server, "await-server-close", new() { ["TERN_EXPECT_CLOSE"] = "1001" });
        await TestServer.WaitUntilAsync(() => server.ConnectionCount == 1 || client.IsCompleted, seconds: 30, because: "ws to connect");
        await server.StopAsync().WaitAsync(TimeSpan.FromSeconds(10));
        ChildProcessResult result = await client;
        Assert.Contains("\"code\":1001", result.StandardOutput);
        // ws answers the close; Tern records the answer.
        await server.AssertClosedCleanlyAsync(WebSocketCloseCode.GoingAway, "Server shutting down");
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Permessage_deflate_echoes_with_and_without_context_takeover(bool contextTakeover, bool secure)
    {
        using var files = new TempDirectory();
        await using EchoServer server = await EchoServer.StartAsync(o =>
        {
            o.Compression = new WebSocketCompressionOptions
            {
                ServerContextTakeover = contextTakeover,
                ClientContextTakeover = contextTakeover,
                MinimumMessageSize = 0,
            };
            o.Tls = secure ? TestCertificates.ServerOptions() : null;
        });
        Assert.Equal(secure ? "wss" : "ws", server.Uri.Scheme);
        var environment = new Dictionary<string, string> { ["TERN_DEFLATE_TAKEOVER"] = contextTakeover ? "true" : "false" };
        if (secure)
        {
            // ws checks the certificate against the test's own CA.
            environment["TERN_CA_FILE"] = TestCertificates.WritePem(TestCertificates.Localhost, files.Path).CertificatePath;
        }

        ChildProcessResult result = await RunCaseAsync(server, "deflate", environment);
        Assert.Equal(!contextTakeover, result.StandardOutput.Contains("server_no_context_takeover", StringComparison.Ordinal));
        Assert.Contains("16 messages echoed", result.StandardOutput);
        await server.AssertClosedCleanlyAsync(WebSocketCloseCode.NormalClosure, "done");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_fragmented_message_is_read_as_a_stream_and_sent_back_in_fragments(bool deflate)
    {
        await using EchoServer server = await EchoServer.StartAsync(o => o.Compression = deflate ? new WebSocketCompressionOptions() : null, streamed: true);
        await RunCaseAsync(server, "streamed", new() { ["TERN_STREAM_DEFLATE"] = deflate ? "true" : "false" });
        await server.AssertClosedCleanlyAsync(WebSocketCloseCode.NormalClosure, "done");
        // Streamed for real: read in several chunks and sent back in as many frames.
        Assert.True(server.StreamedFragments > 1, $"{server.StreamedFragments} fragments");
    }

    [Theory]
    [InlineData(401)]
    [InlineData(403)]
    public async Task Handshake_refusals_reach_ws_with_their_status(int status)
    {
        await using EchoServer server = await EchoServer.StartAsync(o => o.OnHandshake = (context, ct) =>
        {
            context.Reject(status, "Refused by the interop test.");
            return ValueTask.CompletedTask;
        });
        ChildProcessResult result = await RunCaseAsync(server, "refused", new() { ["TERN_EXPECT_STATUS"] = status.ToString(CultureInfo.InvariantCulture) });
        Assert.Contains("Refused by the interop test.", result.StandardOutput);
    }

    [Theory]
    [InlineData("binary-65536")]
    [InlineData("text-16777216")]
    [InlineData("fragmented-binary-with-ping")]
    [InlineData("ping")]
    [InlineData("pipelined")]
    public async Task Cases_pass_over_wss(string caseName)
    {
        using var files = new TempDirectory();
        (string certificate, _) = TestCertificates.WritePem(TestCertificates.Localhost, files.Path);
        await using EchoServer server = await EchoServer.StartAsync(o => o.Tls = TestCertificates.ServerOptions());
        Assert.StartsWith("wss://", server.Uri.ToString());
        // ws verifies the certificate against the one given as its CA (not rejectUnauthorized: false).
        await RunCaseAsync(server, caseName, new() { ["TERN_CA_FILE"] = certificate });
        await server.AssertClosedCleanlyAsync(WebSocketCloseCode.NormalClosure, "done");
    }

    private async Task<ChildProcessResult> RunCaseAsync(EchoServer server, string caseName, Dictionary<string, string>? environment = null)
    {
        node.EnsureReady();
        output.WriteLine($"node {node.NodeVersion}, ws {node.WsVersion}, case {caseName}");
        environment ??= new Dictionary<string, string>();
        environment["TERN_CASE_TIMEOUT_MS"] = ((int)(CaseTimeout.TotalMilliseconds * 0.9)).ToString(CultureInfo.InvariantCulture);
        ChildProcessResult result = await ChildProcess.RunAsync("node", ["client.js", caseName, server.Uri.ToString()], node.Directory, CaseTimeout, environment);
        output.WriteLine(result.ToString());
        JsonElement? verdict = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(e => e.GetProperty("event").GetString() == "result")
            .Select(e => (JsonElement?)e)
            .LastOrDefault();
        Assert.True(verdict is not null, $"the node client reported no result:\n{result}");
        Assert.True(verdict.Value.GetProperty("ok").GetBoolean(), $"case {caseName} failed on the ws side: {verdict.Value.GetProperty("detail")}\n{result}\n--- server log ---\n{server.Log}");
        Assert.Equal(0, result.ExitCode);
        return result;
    }

    /// <summary>
    /// An echo server that records how each connection closed. A text message "close me" makes it close with
    /// 4001 "server says bye".
    /// </summary>
    private sealed class EchoServer : IAsyncDisposable
    {
        private readonly TestServer _server;
        private readonly ConcurrentQueue<WebSocketCloseInfo?> _closes;

        private EchoServer(TestServer server, ConcurrentQueue<WebSocketCloseInfo?> closes, RecordingLoggerFactory log)
        {
            _server = server;
            _closes = closes;
            Log = log;
        }

        public RecordingLoggerFactory Log { get; }

        public Uri Uri
        {
            get
            {
                IPEndPoint endPoint = _server.Server.LocalEndPoints[0];
                string host = endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{endPoint.Address}]" : endPoint.Address.ToString();
                return new Uri($"{_server.Scheme}://{host}:{endPoint.Port}/interop");
            }
        }

        public int ConnectionCount => _server.Server.ConnectionCount;

        /// <summary>Fragments sent by a streamed echo (see <see cref="StartAsync"/>).</summary>
        public int StreamedFragments => _streamedFragments[0];

        private int[] _streamedFragments = [0];

        public Task StopAsync() => _server.Server.StopAsync();

        /// <param name="configure">Server options.</param>
        /// <param name="streamed">Read each message as a stream and echo it as it arrives, a fragment per chunk read.</param>
        public static async Task<EchoServer> StartAsync(Action<WebSocketServerOptions>? configure = null, bool streamed = false)
        {
            var closes = new ConcurrentQueue<WebSocketCloseInfo?>();
            var log = new RecordingLoggerFactory();
            int[] fragments = [0];
            TestServer server = await TestServer.StartAsync(s => s.Map("/interop", async (connection, ct) =>
            {
                while (streamed && await connection.ReadMessageStreamAsync(ct) is { } reader)
                {
                    await using (reader)
                    await using (WebSocketMessageWriter writer = await connection.BeginMessageAsync(reader.Kind, ct))
                    {
                        byte[] buffer = new byte[16 * 1024];
                        int read;
                        while ((read = await reader.ReadAsync(buffer, ct)) > 0)
                        {
                            await writer.WriteAsync(buffer.AsMemory(0, read), ct);
                            Interlocked.Increment(ref fragments[0]);
                        }

                        await writer.CompleteAsync(cancellationToken: ct);
                    }
                }

                bool closeRequested = false;
                await foreach (WebSocketMessage message in connection.ReadMessagesAsync(ct))
                {
                    if (message.IsText && message.Data.Length == 8 && message.GetText() == "close me")
                    {
                        closeRequested = true;
                        break;
                    }

                    await connection.SendAsync(message, ct);
                }

                if (closeRequested)
                {
                    await connection.CloseAsync((WebSocketCloseCode)4001, "server says bye", ct);
                }

                closes.Enqueue(connection.CloseInfo);
            }), options =>
            {
                options.MaxMessageSize = SixteenMiB;
                options.LoggerFactory = log;
                configure?.Invoke(options);
            });
            return new EchoServer(server, closes, log) { _streamedFragments = fragments };
        }

        /// <summary>Asserts that one connection was served and ended with the close frame given, and nothing was logged as an error.</summary>
        public async Task AssertClosedCleanlyAsync(WebSocketCloseCode code, string reason)
        {
            await TestServer.WaitUntilAsync(() => !_closes.IsEmpty && _server.Server.ConnectionCount == 0, because: "the server to finish the connection");
            WebSocketCloseInfo? info = Assert.Single(_closes);
            Assert.NotNull(info);
            Assert.Equal(code, info.Code);
            Assert.Equal(reason, info.Reason);
            Assert.DoesNotContain(Log.Entries, e => e.Level >= LogLevel.Warning);
        }

        public ValueTask DisposeAsync() => _server.DisposeAsync();
    }
}
