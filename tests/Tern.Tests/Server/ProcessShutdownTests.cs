using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using Tern.Tests.TestSupport;
using Xunit.Abstractions;

namespace Tern.Tests.Server;

/// <summary>
/// An application that embeds Tern must be able to exit at once: disposing the server with connections open sends
/// them 1001 Going Away, and nothing Tern started keeps the process alive.
/// </summary>
public sealed class ProcessShutdownTests(ITestOutputHelper output)
{
    private const int ConnectionCount = 100;
    private static readonly TimeSpan ExitBound = TimeSpan.FromSeconds(2);

    [Theory]
    [InlineData("stop")]
    [InlineData("SIGTERM")]
    public async Task Host_process_with_100_open_connections_exits_within_2_s_of_disposing_the_server(string how)
    {
        await using TestHostProcess host = await TestHostProcess.StartAsync();
        var clients = new List<ClientWebSocket>();
        var closeStatuses = new List<Task<WebSocketCloseStatus?>>();
        try
        {
            for (int i = 0; i < ConnectionCount; i++)
            {
                var client = new ClientWebSocket();
                clients.Add(client);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await client.ConnectAsync(new Uri($"ws://127.0.0.1:{host.Port}/"), timeout.Token);
                closeStatuses.Add(client.ReadUntilCloseAsync(timeoutSeconds: 60));
            }

            await WaitForHostCountAsync(host, ConnectionCount);

            var sinceRequest = Stopwatch.StartNew();
            if (how == "stop")
            {
                await host.SendAsync("stop");
            }
            else
            {
                ChildProcessResult kill = await ChildProcess.RunAsync("kill", ["-TERM", host.ProcessId.ToString(CultureInfo.InvariantCulture)], ".", TimeSpan.FromSeconds(10));
                Assert.Equal(0, kill.ExitCode);
            }

            bool exited = await host.WaitForExitAsync(TimeSpan.FromSeconds(15));
            TimeSpan exitTime = sinceRequest.Elapsed;
            string stopped = exited ? await host.ReadLineAsync(TimeSpan.FromSeconds(5)) : "(still running)";
            output.WriteLine($"{how}: process exited after {exitTime.TotalMilliseconds:F0} ms; host reported '{stopped}'");
            Assert.True(exited, $"The host was still running 15 s after '{how}'. stderr:\n{host.StandardError}");
            Assert.True(exitTime < ExitBound, $"The host took {exitTime.TotalMilliseconds:F0} ms to exit after '{how}' (host: '{stopped}'); the bound is {ExitBound.TotalSeconds} s.");
            Assert.Equal(0, host.ExitCode);

            WebSocketCloseStatus?[] statuses = await Task.WhenAll(closeStatuses).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.All(statuses, status => Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, status));
        }
        finally
        {
            foreach (ClientWebSocket client in clients)
            {
                client.Dispose();
            }
        }
    }

    private static async Task WaitForHostCountAsync(TestHostProcess host, int expected)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(30);
        string reply;
        do
        {
            Assert.True(DateTime.UtcNow < deadline, $"The host never counted {expected} connections.");
            await host.SendAsync("count");
            reply = await host.ReadLineAsync(TimeSpan.FromSeconds(10));
        }
        while (reply != $"count {expected}" && await Delay());

        static async Task<bool> Delay()
        {
            await Task.Delay(20);
            return true;
        }
    }
}
