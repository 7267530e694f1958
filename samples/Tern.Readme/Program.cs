using System.Net;
using Tern;

var options = new WebSocketServerOptions();
options.EndPoints.Add(new IPEndPoint(IPAddress.Loopback, 9000));
await using var server = new WebSocketServer(options);

server.Map("/echo", async (connection, ct) =>
{
    await foreach (WebSocketMessage message in connection.ReadMessagesAsync(ct))
        await connection.SendAsync(message, ct);       // text stays text, binary stays binary
});

await server.StartAsync();
Console.WriteLine($"Listening on ws://{server.LocalEndPoints[0]}/echo (Ctrl+C to stop)");

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
// Leaving the scope disposes the server: 1001 Going Away to every client, done within ShutdownTimeout.
