// Hosts a Tern echo server for tests that need Tern in its own process (does the process exit promptly when
// the server is disposed with connections open?).
//
// Arguments: --max-connections <n> sets WebSocketServerOptions.MaxConnections (a high value lets the file limit, not
// the server, be the limit). The server's log (Information and up) goes to stderr, one line per entry.
//
// Prints "listening <port>" once it accepts connections. Then reads commands on stdin, one per line:
//   count  prints "count <n>", the number of open connections
//   limit  prints "max-connections <n>", the connection limit in effect
//   stop   disposes the server and exits
// SIGTERM and the end of stdin also dispose the server and exit. Before exiting it prints "stopped <ms>", the time
// DisposeAsync took.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Tern;

var options = new WebSocketServerOptions { LoggerFactory = new StderrLoggerFactory() };
for (int i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--max-connections":
            options.MaxConnections = int.Parse(args[i + 1], CultureInfo.InvariantCulture);
            break;
        default:
            Console.Error.WriteLine($"unknown option {args[i]}");
            return 2;
    }
}

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
            case "limit":
                Console.Out.WriteLine($"max-connections {server.MaxConnections.ToString(CultureInfo.InvariantCulture)}");
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

/// <summary>Writes the server's log to stderr, one line per entry, so a test can count what the server logged.</summary>
internal sealed class StderrLoggerFactory : ILoggerFactory, ILogger
{
    public ILogger CreateLogger(string categoryName) => this;

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            Console.Error.WriteLine($"{logLevel}: {formatter(state, exception)}{(exception is null ? "" : Environment.NewLine + exception)}");
        }
    }
}
