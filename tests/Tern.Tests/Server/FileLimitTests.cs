using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Tern.Tests.TestSupport;
using Xunit.Abstractions;

namespace Tern.Tests.Server;

/// <summary>
/// The process's file-descriptor limit: the default connection limit is derived from it, and a server held past it
/// (its connection limit set too high to protect it) backs off quietly instead of spinning, and recovers.
/// </summary>
public sealed class FileLimitTests(ITestOutputHelper output)
{
    private const int FileLimit = 256;
    private const int Holders = 400;

    [Theory]
    [InlineData(256L, 103)]
    [InlineData(1024L, 794)]
    [InlineData(20_000L, 17_872)]
    [InlineData(1_048_576L, 943_591)]
    [InlineData(80L, FileDescriptorLimit.Minimum)]
    [InlineData(null, FileDescriptorLimit.Fallback)]
    [InlineData(0L, FileDescriptorLimit.Fallback)]
    [InlineData(long.MaxValue, FileDescriptorLimit.Fallback)]
    public void The_default_limit_is_the_file_limit_less_10_percent_and_128(long? fileLimit, int expected) =>
        Assert.Equal(expected, FileDescriptorLimit.DeriveMaxConnections(fileLimit));

    [Fact]
    public async Task The_file_limit_read_is_the_one_the_shell_reports()
    {
        ChildProcessResult shell = await ChildProcess.RunAsync("bash", ["-c", "ulimit -n"], ".", TimeSpan.FromSeconds(10));
        Assert.Equal(long.Parse(shell.StandardOutput.Trim(), CultureInfo.InvariantCulture), FileDescriptorLimit.ReadSoftLimit());
    }

    [Fact]
    public async Task A_host_under_ulimit_256_derives_its_limit_from_it()
    {
        await using TestHostProcess host = await TestHostProcess.StartAsync(fileLimit: FileLimit);
        Assert.Equal($"max-connections {FileDescriptorLimit.DeriveMaxConnections(FileLimit)}", await host.QueryAsync("limit"));
    }

    [Fact]
    public async Task A_host_held_past_its_file_limit_backs_off_quietly_keeps_serving_and_recovers()
    {
        // The connection limit is set far above the file limit, so accept really fails with EMFILE.
        await using TestHostProcess host = await TestHostProcess.StartAsync(["--max-connections", "100000"], FileLimit);
        long rssBefore = host.ResidentBytes();
        List<Socket> holders = await HoldAsync(host.Port, Holders);
        try
        {
            var held = Stopwatch.StartNew();
            // Past the file limit: a sample of the held connections reads its handshake answer once accepted.
            string firstHead = await ReadHeadAsync(holders[0]);
            Assert.StartsWith("HTTP/1.1 101 ", firstHead);
            await TestServer.WaitUntilAsync(() => host.StandardError.Contains("backing off", StringComparison.Ordinal), 10, "the host runs out of descriptors and backs off");
            await Task.Delay(TimeSpan.FromSeconds(6) - held.Elapsed);

            Assert.False(host.HasExited, $"the host died at its file limit:\n{host.StandardError}");
            // Connections accepted before the limit keep working.
            await AssertEchoesAsync(holders[0]);
            string stderr = host.StandardError;
            string[] backoffLines = stderr.Split('\n').Where(l => l.Contains("backing off", StringComparison.Ordinal)).ToArray();
            output.WriteLine($"held {Holders} connections for {held.Elapsed.TotalSeconds:F1} s under ulimit -n {FileLimit}: {backoffLines.Length} back-off lines; " +
                $"RSS {rssBefore / 1024 / 1024} MiB before, {host.ResidentBytes() / 1024 / 1024} MiB after");
            output.WriteLine(string.Join('\n', backoffLines.Take(3).Concat(backoffLines.TakeLast(2))));
            Assert.Contains("Too many open files", backoffLines[0], StringComparison.Ordinal);
            Assert.InRange(backoffLines.Length, 1, 15);
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        }
        finally
        {
            holders.ForEach(h => h.Dispose());
        }

        await AssertServesNewClientAsync(host);
        Assert.Contains("Accepting again", host.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_host_under_ulimit_256_with_the_default_limit_refuses_the_excess_and_never_runs_out_of_descriptors()
    {
        await using TestHostProcess host = await TestHostProcess.StartAsync(fileLimit: FileLimit);
        int limit = FileDescriptorLimit.DeriveMaxConnections(FileLimit);
        List<Socket> holders = await HoldAsync(host.Port, Holders);
        try
        {
            // Every holder gets an answer: 101 up to the limit, then 503 or a plain close.
            string[] heads = await Task.WhenAll(holders.Select(ReadHeadAsync));
            int accepted = heads.Count(h => h.StartsWith("HTTP/1.1 101 ", StringComparison.Ordinal));
            int refused503 = heads.Count(h => h.StartsWith("HTTP/1.1 503 ", StringComparison.Ordinal));
            output.WriteLine($"{accepted} accepted, {refused503} refused with 503, {heads.Count(h => h.Length == 0)} closed; limit {limit}");
            Assert.Equal(limit, accepted);
            Assert.True(refused503 > 0, "no client over the limit got 503");
            Assert.All(heads, h => Assert.True(h.Length == 0 || h.StartsWith("HTTP/1.1 101 ", StringComparison.Ordinal) || h.StartsWith("HTTP/1.1 503 ", StringComparison.Ordinal), h));
            Assert.Equal($"count {limit}", await host.QueryAsync("count"));
            Assert.False(host.HasExited);
            Assert.DoesNotContain("backing off", host.StandardError, StringComparison.Ordinal);
            Assert.DoesNotContain("Too many open files", host.StandardError, StringComparison.Ordinal);
        }
        finally
        {
            holders.ForEach(h => h.Dispose());
        }

        await AssertServesNewClientAsync(host);
    }

    /// <summary>Opens <paramref name="count"/> connections that each send an upgrade request at once and then hold on.</summary>
    private static async Task<List<Socket>> HoldAsync(int port, int count)
    {
        var sockets = new List<Socket>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                // Past the server's file limit the connection waits in the listen backlog (512), still connected.
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
                await socket.SendAsync(Encoding.ASCII.GetBytes(RawPeer.UpgradeRequest()), SocketFlags.None, timeout.Token);
            }
        }
        catch
        {
            sockets.ForEach(s => s.Dispose());
            throw;
        }

        return sockets;
    }

    /// <summary>Reads a response head; empty when the server closed first. Fails after 10 s.</summary>
    private static async Task<string> ReadHeadAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var head = new StringBuilder();
        var buffer = new byte[1];
        try
        {
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) == 0)
                {
                    return "";
                }

                head.Append((char)buffer[0]);
            }
        }
        catch (SocketException)
        {
            return "";
        }

        return head.ToString();
    }

    private static async Task AssertEchoesAsync(Socket socket)
    {
        var peer = new byte[] { 0x81, 0x85, 1, 2, 3, 4, (byte)('h' ^ 1), (byte)('e' ^ 2), (byte)('l' ^ 3), (byte)('l' ^ 4), (byte)('o' ^ 1) };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.SendAsync(peer, SocketFlags.None, timeout.Token);
        var reply = new byte[7];
        int filled = 0;
        while (filled < reply.Length)
        {
            int read = await socket.ReceiveAsync(reply.AsMemory(filled), SocketFlags.None, timeout.Token);
            Assert.True(read > 0, "the server closed a connection it had accepted");
            filled += read;
        }

        Assert.Equal("hello", Encoding.ASCII.GetString(reply, 2, 5));
    }

    private static async Task AssertServesNewClientAsync(TestHostProcess host)
    {
        using var client = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await client.ConnectAsync(new Uri($"ws://127.0.0.1:{host.Port}/"), timeout.Token);
        await client.SendAsync("back"u8.ToArray(), WebSocketMessageType.Text, true, timeout.Token);
        (WebSocketMessageType type, byte[] data) = await client.ReceiveMessageAsync(10);
        Assert.Equal(WebSocketMessageType.Text, type);
        Assert.Equal("back", Encoding.UTF8.GetString(data));
        Assert.False(host.HasExited);
    }
}
