using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using Tern.Tests.Conformance;
using Tern.Tests.TestSupport;
using Tern.TestSupport;

namespace Tern.Tests.Server;

/// <summary>wss: TLS under the same server, certificates from options, PEM and PFX files, and a selector.</summary>
public sealed class TlsTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Tern_client_echoes_over_wss_and_both_ends_report_secure()
    {
        var serverSaw = new TaskCompletionSource<bool>();
        await using TestServer server = await TestServer.StartAsync(
            s => s.MapFallback(async (connection, ct) =>
            {
                serverSaw.TrySetResult(connection.IsSecure);
                await foreach (WebSocketMessage message in connection.ReadMessagesAsync(ct))
                {
                    await connection.SendAsync(message, ct);
                }
            }),
            o => o.Tls = TestCertificates.ServerOptions());
        Assert.Equal("wss", server.Uri().Scheme);

        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri(), new WebSocketClientOptions { Tls = TestCertificates.ClientOptions() });
        Assert.True(client.IsSecure);
        Assert.True(await serverSaw.Task.WaitAsync(Bound));
        byte[] big = RandomNumberGenerator.GetBytes(300_000);
        await client.SendTextAsync("hello over tls");
        await client.SendBinaryAsync(big);
        await using IAsyncEnumerator<WebSocketMessage> replies = client.ReadMessagesAsync().GetAsyncEnumerator();
        Assert.True(await replies.MoveNextAsync().AsTask().WaitAsync(Bound));
        Assert.Equal("hello over tls", replies.Current.GetText());
        Assert.True(await replies.MoveNextAsync().AsTask().WaitAsync(Bound));
        Assert.True(big.AsSpan().SequenceEqual(replies.Current.Data.Span), "the 300 KB binary came back different");
        await client.CloseAsync(WebSocketCloseCode.NormalClosure, "done").WaitAsync(Bound);
        Assert.Equal(WebSocketCloseCode.NormalClosure, client.CloseInfo?.Code);
    }

    [Fact]
    public async Task Plain_ws_connections_are_not_secure()
    {
        await using TestServer server = await TestServer.StartAsync();
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri());
        Assert.False(client.IsSecure);
    }

    [Fact]
    public async Task Tern_client_refuses_an_untrusted_certificate()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.Tls = TestCertificates.ServerOptions());
        await Assert.ThrowsAsync<AuthenticationException>(() => WebSocketClient.ConnectAsync(server.Uri()));
    }

    [Fact]
    public async Task ClientWebSocket_echoes_over_wss()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.Tls = TestCertificates.ServerOptions());
        using ClientWebSocket client = await server.ConnectClientAsync();
        byte[] text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("κόσμε 日本語 ", 5000)));
        await client.SendAsync(text, WebSocketMessageType.Text, true, CancellationToken.None);
        (WebSocketMessageType type, byte[] echo) = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal(text, echo);
        using var timeout = new CancellationTokenSource(Bound);
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task Both_TLS_versions_are_negotiated(SslProtocols version)
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.Tls = TestCertificates.ServerOptions());
        await using RawClient client = await RawClient.ConnectAsync(server.Port, tls: true, protocols: version);
        Assert.Equal(version, client.TlsProtocol);
        string key = RawClient.NewKey();
        await client.SendAsync(RawClient.UpgradeRequest("/", server.Port, key));
        RawClient.AssertAccepts(await client.ReadHttpResponseAsync(), key);
        await client.SendAsync(WireFrame.Encode(Op.Text, "v"u8.ToArray()));
        await client.ExpectTextAsync("v");
        await client.CloseNormallyAsync();
    }

    [Fact]
    public async Task Only_the_enabled_versions_are_accepted()
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.Tls = new WebSocketTlsOptions
        {
            Certificate = TestCertificates.Localhost,
            EnabledProtocols = SslProtocols.Tls13,
        });
        await Assert.ThrowsAnyAsync<Exception>(() => RawClient.ConnectAsync(server.Port, tls: true, protocols: SslProtocols.Tls12));
        await using RawClient client = await RawClient.ConnectAsync(server.Port, tls: true, protocols: SslProtocols.Tls12 | SslProtocols.Tls13);
        Assert.Equal(SslProtocols.Tls13, client.TlsProtocol);
    }

    [Theory]
    [InlineData("silent")]
    [InlineData("half a ClientHello")]
    public async Task A_stalled_TLS_handshake_is_closed_within_the_handshake_timeout(string how)
    {
        var log = new RecordingLoggerFactory();
        TimeSpan handshakeTimeout = TimeSpan.FromMilliseconds(800);
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.Tls = TestCertificates.ServerOptions();
            o.HandshakeTimeout = handshakeTimeout;
            o.LoggerFactory = log;
        });
        using Socket socket = await ConnectTcpAsync(server.Port);
        if (how != "silent")
        {
            // A TLS record header announcing a 512-byte handshake message (a ClientHello), then only its first bytes.
            await socket.SendAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03 }, SocketFlags.None);
        }

        var clock = Stopwatch.StartNew();
        string closed = await ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(10));
        Assert.True(clock.Elapsed >= handshakeTimeout * 0.8 && clock.Elapsed < handshakeTimeout + TimeSpan.FromSeconds(2),
            $"closed ({closed}) after {clock.ElapsedMilliseconds} ms; the handshake timeout is {handshakeTimeout.TotalMilliseconds} ms");
        await TestServer.WaitUntilAsync(() => log.Entries.Any(e => e.EventId.Id == 300), because: "the timeout to be logged");
        Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Warning || e.Exception is not null);
    }

    [Fact]
    public async Task The_TLS_handshake_and_the_request_share_one_deadline()
    {
        TimeSpan handshakeTimeout = TimeSpan.FromMilliseconds(1500);
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.Tls = TestCertificates.ServerOptions();
            o.HandshakeTimeout = handshakeTimeout;
        });
        var clock = Stopwatch.StartNew();
        await using RawClient client = await RawClient.ConnectAsync(server.Port, tls: true);
        // TLS done; the request head never comes. The 408 must come at the deadline counted from connect.
        Conformance.RawHttpResponse response = await client.ReadHttpResponseAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(408, response.StatusCode);
        Assert.True(clock.Elapsed < handshakeTimeout + TimeSpan.FromMilliseconds(700), $"408 after {clock.ElapsedMilliseconds} ms");
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")]
    [InlineData("\u0000\u0001garbage garbage garbage garbage garbage\r\n\r\n")]
    public async Task Plain_HTTP_or_garbage_on_the_TLS_port_is_dropped_quickly_and_quietly(string sent)
    {
        var log = new RecordingLoggerFactory();
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.Tls = TestCertificates.ServerOptions();
            o.LoggerFactory = log;
        });
        using (Socket socket = await ConnectTcpAsync(server.Port))
        {
            await socket.SendAsync(Encoding.Latin1.GetBytes(sent), SocketFlags.None);
            var clock = Stopwatch.StartNew();
            await ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(10));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"dropped after {clock.ElapsedMilliseconds} ms (the handshake timeout is 10 s)");
        }

        // The server goes on serving wss.
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri(), new WebSocketClientOptions { Tls = TestCertificates.ClientOptions() });
        await client.SendTextAsync("still here");
        await using IAsyncEnumerator<WebSocketMessage> replies = client.ReadMessagesAsync().GetAsyncEnumerator();
        Assert.True(await replies.MoveNextAsync().AsTask().WaitAsync(Bound));
        Assert.Equal("still here", replies.Current.GetText());
        await client.CloseAsync().WaitAsync(Bound);

        await TestServer.WaitUntilAsync(() => log.Entries.Any(e => e.EventId.Id == 308), because: "the TLS failure to be logged");
        Assert.DoesNotContain(log.Entries, e => e.Level >= LogLevel.Warning || e.Exception is not null);
        await TestServer.WaitUntilAsync(() => server.Server.ConnectionCount == 0, because: "the wss connection to be released");
    }

    [Fact]
    public async Task Over_the_connection_limit_a_TLS_port_closes_at_once_without_a_plaintext_503()
    {
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.Tls = TestCertificates.ServerOptions();
            o.MaxConnections = 1;
        });
        await using WebSocketConnection held = await WebSocketClient.ConnectAsync(server.Uri(), new WebSocketClientOptions { Tls = TestCertificates.ClientOptions() });
        using Socket refused = await ConnectTcpAsync(server.Port);
        var clock = Stopwatch.StartNew();
        var received = new byte[64];
        using var timeout = new CancellationTokenSource(Bound);
        int count = await refused.ReceiveAsync(received, SocketFlags.None, timeout.Token);
        Assert.True(count == 0, $"the refused client got {count} bytes ({Encoding.Latin1.GetString(received, 0, count)}) instead of a close");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"closed after {clock.ElapsedMilliseconds} ms");
        Assert.Equal(1, server.Server.Limiter!.RefusedMaxConnections);
    }

    [Fact]
    public async Task Keepalive_pings_and_shutdown_work_over_TLS()
    {
        TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.Tls = TestCertificates.ServerOptions();
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
            o.KeepAliveTimeout = TimeSpan.FromMilliseconds(600);
        });
        try
        {
            using ClientWebSocket client = await server.ConnectClientAsync();
            // ClientWebSocket answers the server's pings only while a receive is pending.
            var buffer = new byte[256];
            Task<WebSocketReceiveResult> receiving = client.ReceiveAsync(buffer, CancellationToken.None);
            await Task.Delay(1500);
            Assert.Equal(1, server.Server.ConnectionCount);
            Assert.False(receiving.IsCompleted, "the connection ended while idle with keepalive pings answered");

            await server.Server.StopAsync().WaitAsync(Bound);
            WebSocketReceiveResult closing = await receiving.WaitAsync(Bound);
            Assert.Equal(WebSocketMessageType.Close, closing.MessageType);
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, client.CloseStatus);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task HTTP_requests_are_answered_over_TLS()
    {
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.Tls = TestCertificates.ServerOptions();
            o.HttpHandler = (context, ct) => context.RespondAsync(Tern.Http.HttpResponse.Text(200, $"hello {context.Request.Path}"), ct);
        });
        using var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = (_, certificate, chain, errors) => TestCertificates.Trust(server, certificate, chain, errors) };
        using var http = new HttpClient(handler) { Timeout = Bound };
        string body = await http.GetStringAsync(new Uri($"https://localhost:{server.Port}/page"));
        Assert.Equal("hello /page\n", body);
    }

    [Fact]
    public async Task PEM_files_load_and_serve()
    {
        using var files = new TempDirectory();
        using X509Certificate2 certificate = TestCertificates.Create();
        (string certificatePath, string keyPath) = TestCertificates.WritePem(certificate, files.Path);
        await AssertServesAsync(WebSocketTlsOptions.FromPemFiles(certificatePath, keyPath), certificate);
    }

    [Fact]
    public async Task PFX_files_load_and_serve_and_a_wrong_password_is_refused()
    {
        using var files = new TempDirectory();
        using X509Certificate2 certificate = TestCertificates.Create();
        string pfx = TestCertificates.WritePfx(certificate, files.Path, "s3cret");
        await AssertServesAsync(WebSocketTlsOptions.FromPfxFile(pfx, "s3cret"), certificate);
        Assert.ThrowsAny<CryptographicException>(() => WebSocketTlsOptions.FromPfxFile(pfx, "wrong"));
    }

    [Fact]
    public void Missing_files_and_a_certificate_without_its_key_fail_before_listening()
    {
        using var files = new TempDirectory();
        Assert.ThrowsAny<Exception>(() => WebSocketTlsOptions.FromPemFiles(Path.Combine(files.Path, "none.pem"), Path.Combine(files.Path, "none.key")));
        using X509Certificate2 publicOnly = X509CertificateLoader.LoadCertificate(TestCertificates.Localhost.RawData);
        var server = new WebSocketServer(new WebSocketServerOptions { Tls = new WebSocketTlsOptions { Certificate = publicOnly } });
        Assert.Throws<InvalidOperationException>(() => server.StartAsync().GetAwaiter().GetResult());
        var empty = new WebSocketServer(new WebSocketServerOptions { Tls = new WebSocketTlsOptions() });
        Assert.Throws<InvalidOperationException>(() => empty.StartAsync().GetAwaiter().GetResult());
    }

    [Fact]
    public async Task A_certificate_selector_picks_up_a_renewed_certificate_without_a_restart()
    {
        using X509Certificate2 first = TestCertificates.Create();
        using X509Certificate2 renewed = TestCertificates.Create();
        X509Certificate2 current = first;
        await using TestServer server = await TestServer.StartAsync(options: o => o.Tls = new WebSocketTlsOptions
        {
            AuthenticationOptions = new SslServerAuthenticationOptions
            {
                ServerCertificateSelectionCallback = (_, _) => Volatile.Read(ref current),
            },
        });
        Assert.Equal(first.Thumbprint, await PresentedCertificateAsync(server));
        Volatile.Write(ref current, renewed);
        Assert.Equal(renewed.Thumbprint, await PresentedCertificateAsync(server));
    }

    [Fact]
    public async Task Echo_sample_serves_wss_with_cert_and_key()
    {
        using var files = new TempDirectory();
        (string certificatePath, string keyPath) = TestCertificates.WritePem(TestCertificates.Localhost, files.Path);
        await using EchoSampleProcess sample = await EchoSampleProcess.StartAsync(1024 * 1024, "--cert", certificatePath, "--key", keyPath);
        Assert.StartsWith("wss://", sample.ListeningUri);
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(new Uri(sample.ListeningUri), new WebSocketClientOptions { Tls = TestCertificates.ClientOptions() });
        await client.SendTextAsync("echo me");
        await using IAsyncEnumerator<WebSocketMessage> replies = client.ReadMessagesAsync().GetAsyncEnumerator();
        Assert.True(await replies.MoveNextAsync().AsTask().WaitAsync(Bound));
        Assert.Equal("echo me", replies.Current.GetText());
        await client.CloseAsync().WaitAsync(Bound);
        Assert.Empty(sample.TakeErrors());
    }

    [Theory]
    [InlineData("--cert only", "needs its private key")]
    [InlineData("--cert missing", "Cannot load the certificate")]
    [InlineData("--pfx wrong password", "--pfx-password")]
    public async Task Echo_sample_explains_unusable_certificate_options(string what, string expected)
    {
        using var files = new TempDirectory();
        (string certificate, string key) = TestCertificates.WritePem(TestCertificates.Localhost, files.Path);
        string pfx = TestCertificates.WritePfx(TestCertificates.Localhost, files.Path, "right");
        string[] arguments = what switch
        {
            "--cert only" => ["--cert", certificate],
            "--cert missing" => ["--cert", Path.Combine(files.Path, "missing.pem"), "--key", key],
            _ => ["--pfx", pfx, "--pfx-password", "wrong"],
        };
        ChildProcessResult result = await ChildProcess.RunAsync("dotnet", [EchoSampleProcess.SampleDll(), "--port", "0", .. arguments], files.Path, TimeSpan.FromSeconds(30));
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains(expected, result.StandardError);
        Assert.DoesNotContain("   at ", result.StandardError);
    }

    /// <summary>
    /// A peer that keeps sending while the server fails its connection. When the server still sent a close_notify,
    /// OpenSSL's shutdown met the peer's records being decrypted: first a refusal ("application data after close
    /// notify") escaped the teardown, so the session ended without releasing the connection's decoder or logging its
    /// close (the echo sample's log never said "closed"); then, with that caught, the same race corrupted native
    /// memory and crashed the test host about one run in two. The server now ends the TLS stream with the TCP FIN
    /// alone. Many connections, because the race needs the peer's records to arrive in the instant the server shuts
    /// its side down.
    /// </summary>
    [Fact]
    public async Task A_peer_still_sending_while_the_server_fails_the_connection_over_TLS_leaves_a_complete_teardown()
    {
        const int Connections = 300;
        var logs = new RecordingLoggerFactory();
        await using TestServer server = await TestServer.StartAsync(options: o =>
        {
            o.Tls = TestCertificates.ServerOptions();
            o.LoggerFactory = logs;
        });

        for (int i = 0; i < Connections; i++)
        {
            using var tcp = new TcpClient { NoDelay = true };
            await tcp.ConnectAsync(IPAddress.Loopback, server.Port).WaitAsync(Bound);
            await using var tls = new SslStream(tcp.GetStream());
            SslClientAuthenticationOptions options = TestCertificates.ClientOptions();
            options.TargetHost = "localhost";
            await tls.AuthenticateAsClientAsync(options).WaitAsync(Bound);
            await tls.WriteAsync(Encoding.ASCII.GetBytes(RawPeer.UpgradeRequest()));
            await ReadResponseHeadAsync(tls);

            // A lone continuation byte is invalid UTF-8: the server fails the connection with 1007. The pings behind
            // it, each its own TLS record, keep arriving while it sends its close frame and close_notify; then the
            // client ends its side, which lets the server finish at once rather than after its close timeout.
            await tls.WriteAsync(WireFrame.Encode(Op.Text, [0x80]));
            Task reading = ReadUntilEndAsync(tls);
            await SendQuietlyAsync(tls, WireFrame.Ping("still here"), times: 50);
            tcp.Client.Shutdown(SocketShutdown.Send);
            await reading.WaitAsync(Bound);
        }

        int ClosesLogged() => logs.Entries.Count(e => e.EventId.Id == 401);
        var waited = Stopwatch.StartNew();
        while (ClosesLogged() < Connections && waited.Elapsed < Bound)
        {
            await Task.Delay(20);
        }

        Assert.True(ClosesLogged() == Connections,
            $"The server finished tearing down (logged the close of) {ClosesLogged()} of {Connections} connections within {Bound.TotalSeconds} s.");
        Assert.Equal(0, server.Server.ConnectionCount);
        Assert.Empty(logs.Entries.Where(e => e.Level >= LogLevel.Error).Select(e => $"{e.Message} {e.Exception}"));
    }

    private static async Task ReadResponseHeadAsync(Stream stream)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (head.Count < 4 || !head[^4..].SequenceEqual("\r\n\r\n"u8.ToArray()))
        {
            Assert.True(await stream.ReadAsync(one).AsTask().WaitAsync(Bound) == 1, "The server closed before its 101.");
            head.Add(one[0]);
        }

        Assert.StartsWith("HTTP/1.1 101", Encoding.ASCII.GetString([.. head]));
    }

    /// <summary>Writes <paramref name="frame"/> <paramref name="times"/> times, one write each, or until the server stops taking it.</summary>
    private static async Task SendQuietlyAsync(Stream stream, byte[] frame, int times)
    {
        try
        {
            for (int i = 0; i < times; i++)
            {
                await stream.WriteAsync(frame).AsTask().WaitAsync(Bound);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    /// <summary>Reads (and drops) what the server sends until it ends the stream, by close_notify, FIN or reset.</summary>
    private static async Task ReadUntilEndAsync(Stream stream)
    {
        var buffer = new byte[4096];
        try
        {
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        }
        catch (IOException)
        {
        }
    }

    private static async Task AssertServesAsync(WebSocketTlsOptions tls, X509Certificate2 expected)
    {
        await using TestServer server = await TestServer.StartAsync(options: o => o.Tls = tls);
        Assert.Equal(expected.Thumbprint, await PresentedCertificateAsync(server));
    }

    /// <summary>Connects with Tern's client and returns the thumbprint of the certificate the server presented.</summary>
    private static async Task<string?> PresentedCertificateAsync(TestServer server)
    {
        string? presented = null;
        var tls = new SslClientAuthenticationOptions
        {
            RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
            {
                presented = certificate?.GetCertHashString();
                return TestCertificates.Trust(sender, certificate, chain, errors);
            },
        };
        await using WebSocketConnection client = await WebSocketClient.ConnectAsync(server.Uri(), new WebSocketClientOptions { Tls = tls });
        await client.CloseAsync().WaitAsync(Bound);
        return presented;
    }

    private static async Task<Socket> ConnectTcpAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    /// <summary>Reads (and drops) whatever comes until the server closes; returns how it closed.</summary>
    private static async Task<string> ReadUntilClosedAsync(Socket socket, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        var buffer = new byte[4096];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
            {
            }

            return "FIN";
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode.ToString();
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The server kept the connection open for {limit.TotalSeconds} s.");
            throw;
        }
    }
}
