// Hosts a Tern echo server for tests that need Tern in its own process (does the process exit promptly when
// the server is disposed with connections open?).
//
// Prints "listening <port>" once it accepts connections. Then reads commands on stdin, one per line:
//   count  prints "count <n>", the number of open connections
//   stop   disposes the server and exits
// SIGTERM and the end of stdin also dispose the server and exit. Before exiting it prints "stopped <ms>", the time
// DisposeAsync took.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Tern;

var options = new WebSocketServerOptions();
options.EndPoints.Add(new IPEndPoint(IPAddress.Loopback, 0));
var server = new WebSocketServer(options);
server.MapFallback(async (connection, cancellationToken) =>
{
    await foreach (WebSocketMessage message in connection.ReadMessagesAsync(cancellationToken))
    {
        await connection.SendAsync(message, cancellationToken);
    }
});

var stopRequested = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stopRequested.TrySetResult("SIGTERM");
});

await server.StartAsync();
Console.Out.WriteLine($"listening {server.LocalEndPoints[0].Port.ToString(CultureInfo.InvariantCulture)}");
Console.Out.Flush();

_ = Task.Run(async () =>
{
    while (await Console.In.ReadLineAsync() is { } line)
    {
        switch (line.Trim())
        {
            case "count":
                Console.Out.WriteLine($"count {server.ConnectionCount.ToString(CultureInfo.InvariantCulture)}");
                Console.Out.Flush();
                break;
            case "stop":
                stopRequested.TrySetResult("stop");
                return;
        }
    }

    stopRequested.TrySetResult("end of stdin");
});

await stopRequested.Task;
var stopwatch = Stopwatch.StartNew();
await server.DisposeAsync();
Console.Out.WriteLine($"stopped {stopwatch.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture)}");
Console.Out.Flush();
return 0;
