// Tern in a Generic Host: options from appsettings.json (section "Tern"), logging through the host, Ctrl+C or SIGTERM
// stops the server gracefully (1001 to every client). /echo echoes; /clock receives the time from a background service
// that broadcasts through the WebSocketServer it gets from dependency injection.
//
//   dotnet run --project samples/Tern.Hosting.Sample                      (ws://127.0.0.1:9002/echo and /clock)
//   dotnet run --project samples/Tern.Hosting.Sample -- --Tern:EndPoints:0 "*:9003"
using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Tern;
using Tern.Hosting;
using Tern.Hosting.Sample;

HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
{
    Args = args,
    // appsettings.json is copied next to the program: read it from there, whatever the working directory.
    ContentRootPath = AppContext.BaseDirectory,
});
builder.Services.AddSingleton<ClockSubscribers>();
builder.Services.AddHostedService<ClockService>();
builder.Services.AddTernServer(builder.Configuration.GetSection("Tern"))
    .Map("/echo", async (connection, ct) =>
    {
        await foreach (WebSocketMessage message in connection.ReadMessagesAsync(ct))
        {
            await connection.SendAsync(message, ct);
        }
    })
    .ConfigureServer((server, services) =>
    {
        ClockSubscribers subscribers = services.GetRequiredService<ClockSubscribers>();
        server.Map("/clock", async (connection, ct) =>
        {
            subscribers.Connections[connection.Id] = connection;
            try
            {
                // Reading keeps pings answered and notices the close; the clock ignores what clients send.
                await foreach (WebSocketMessage _ in connection.ReadMessagesAsync(ct))
                {
                }
            }
            finally
            {
                subscribers.Connections.TryRemove(connection.Id, out _);
            }
        });
    });

using IHost host = builder.Build();
await host.StartAsync();
foreach (System.Net.IPEndPoint endPoint in host.Services.GetRequiredService<WebSocketServer>().LocalEndPoints)
{
    Console.WriteLine($"Listening on ws://{endPoint}/echo and ws://{endPoint}/clock (Ctrl+C to stop)");
}

await host.WaitForShutdownAsync();

namespace Tern.Hosting.Sample
{
    /// <summary>The connections on /clock.</summary>
    internal sealed class ClockSubscribers
    {
        public ConcurrentDictionary<long, WebSocketConnection> Connections { get; } = new();
    }

    /// <summary>Broadcasts the time to /clock every Clock:Interval, through the server from dependency injection.</summary>
    internal sealed class ClockService(WebSocketServer server, ClockSubscribers subscribers, IConfiguration configuration) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            TimeSpan interval = configuration.GetValue("Clock:Interval", TimeSpan.FromSeconds(5));
            using var timer = new PeriodicTimer(interval);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await server.BroadcastTextAsync(DateTimeOffset.UtcNow.ToString("O"), subscribers.Connections.Values, stoppingToken);
            }
        }
    }
}
