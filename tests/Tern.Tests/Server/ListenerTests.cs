using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Tern.Tests.TestSupport;

namespace Tern.Tests.Server;

/// <summary>Listening: port 0 reported back, IPv6 loopback, several endpoints, a port already in use.</summary>
public sealed class ListenerTests
{
    [Fact]
    public async Task Port_0_binds_a_free_port_and_reports_it()
    {
        await using var first = new WebSocketServer(Options(new IPEndPoint(IPAddress.Loopback, 0)));
        await using var second = new WebSocketServer(Options(new IPEndPoint(IPAddress.Loopback, 0)));
        Assert.Empty(first.LocalEndPoints);
        first.MapFallback(ReportRemote);
        second.MapFallback(ReportRemote);
        await first.StartAsync();
        await second.StartAsync();

        IPEndPoint bound = Assert.Single(first.LocalEndPoints);
        Assert.Equal(IPAddress.Loopback, bound.Address);
        Assert.NotEqual(0, bound.Port);
        Assert.NotEqual(bound.Port, second.LocalEndPoints[0].Port);
        Assert.Equal("127.0.0.1", await ConnectAndReadAsync($"ws://127.0.0.1:{bound.Port}/"));
    }

    [Fact]
    public async Task IPv6_loopback_serves_clients_and_reports_its_port()
    {
        await using var server = new WebSocketServer(Options(new IPEndPoint(IPAddress.IPv6Loopback, 0)));
        server.MapFallback(ReportRemote);
        await server.StartAsync();
        IPEndPoint bound = Assert.Single(server.LocalEndPoints);
        Assert.Equal(IPAddress.IPv6Loopback, bound.Address);
        Assert.NotEqual(0, bound.Port);
        Assert.Equal("::1", await ConnectAndReadAsync($"ws://[::1]:{bound.Port}/"));
    }

    [Fact]
    public async Task IPv4_and_IPv6_endpoints_each_get_their_own_port_and_both_serve()
    {
        await using var server = new WebSocketServer(Options(new IPEndPoint(IPAddress.Loopback, 0), new IPEndPoint(IPAddress.IPv6Loopback, 0)));
        server.MapFallback(ReportRemote);
        await server.StartAsync();
        Assert.Equal(2, server.LocalEndPoints.Count);
        Assert.Equal(AddressFamily.InterNetwork, server.LocalEndPoints[0].AddressFamily);
        Assert.Equal(AddressFamily.InterNetworkV6, server.LocalEndPoints[1].AddressFamily);
        Assert.All(server.LocalEndPoints, e => Assert.NotEqual(0, e.Port));
        Assert.Equal("127.0.0.1", await ConnectAndReadAsync($"ws://127.0.0.1:{server.LocalEndPoints[0].Port}/"));
        Assert.Equal("::1", await ConnectAndReadAsync($"ws://[::1]:{server.LocalEndPoints[1].Port}/"));
    }

    [Fact]
    public async Task A_port_in_use_fails_StartAsync_and_releases_what_was_bound()
    {
        using var occupier = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        occupier.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        occupier.Listen();
        int taken = ((IPEndPoint)occupier.LocalEndPoint!).Port;

        // The first endpoint binds fine; the second fails; the first must not stay bound.
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        int free = ((IPEndPoint)probe.LocalEndPoint!).Port;
        probe.Close();

        await using var server = new WebSocketServer(Options(new IPEndPoint(IPAddress.Loopback, free), new IPEndPoint(IPAddress.Loopback, taken)));
        SocketException error = await Assert.ThrowsAsync<SocketException>(() => server.StartAsync());
        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);

        using var rebind = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        rebind.Bind(new IPEndPoint(IPAddress.Loopback, free));
    }

    [Fact]
    public async Task Without_endpoints_the_server_listens_on_127_0_0_1_and_a_free_port()
    {
        await using var server = new WebSocketServer();
        server.MapFallback(ReportRemote);
        await server.StartAsync();
        IPEndPoint bound = Assert.Single(server.LocalEndPoints);
        Assert.Equal(IPAddress.Loopback, bound.Address);
        Assert.Equal("127.0.0.1", await ConnectAndReadAsync($"ws://127.0.0.1:{bound.Port}/"));
    }

    private static WebSocketServerOptions Options(params IPEndPoint[] endPoints)
    {
        var options = new WebSocketServerOptions();
        foreach (IPEndPoint endPoint in endPoints)
        {
            options.EndPoints.Add(endPoint);
        }

        return options;
    }

    private static async Task ReportRemote(WebSocketConnection connection, CancellationToken ct)
    {
        await connection.SendTextAsync(connection.RemoteEndPoint.Address.ToString(), ct);
        await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
        {
        }
    }

    private static async Task<string> ConnectAndReadAsync(string uri)
    {
        using var client = new ClientWebSocket();
        await client.ConnectAsync(new Uri(uri), new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        (_, byte[] data) = await client.ReceiveMessageAsync();
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
        return Encoding.UTF8.GetString(data);
    }
}
