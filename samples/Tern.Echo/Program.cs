// Echo server for conformance runs (the Autobahn TestSuite's fuzzing client) and benchmarks:
// every text and binary message is sent back unchanged, on every path; on /broadcast every message
// goes to every /broadcast connection, sender included.
using System.Net;
using Microsoft.Extensions.Logging;
using Tern;
using Tern.Echo;

// Echo's handlers never block, so the socket engine may run them on its own thread as data arrives, saving a thread
// hop per message (measured in docs/benchmarks.md). It is read when the first socket starts, so set it before that;
// an explicit setting in the environment wins. Applications whose handlers may block should leave it off.
const string InlineCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";
if (Environment.GetEnvironmentVariable(InlineCompletions) is null)
{
    Environment.SetEnvironmentVariable(InlineCompletions, "1");
}

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(EchoOptions.Usage);
    return 0;
}

EchoOptions echo;
IPAddress address;
WebSocketTlsOptions? tls;
WebSocketCompressionOptions? compression;
try
{
    echo = EchoOptions.Load(args);
    address = echo.ParseHost();
    tls = echo.LoadTls();
    compression = echo.LoadCompression();
}
catch (FormatException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

using ILoggerFactory loggerFactory = LoggerFactory.Create(builder => builder
    .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
    .SetMinimumLevel(echo.Quiet ? LogLevel.Warning : echo.Verbose ? LogLevel.Debug : LogLevel.Information));
var options = new WebSocketServerOptions
{
    MaxMessageSize = echo.MaxMessage,
    LoggerFactory = loggerFactory,
    Tls = tls,
    Compression = compression,
};
options.EndPoints.Add(new IPEndPoint(address, echo.Port));

await using var server = new WebSocketServer(options);
var broadcastGroup = new System.Collections.Concurrent.ConcurrentDictionary<long, WebSocketConnection>();
// A live view of the group: enumerating it walks the dictionary, where .Values would copy it for every message.
IEnumerable<WebSocketConnection> subscribers = broadcastGroup.Select(static entry => entry.Value);
server.Map("/broadcast", async (connection, cancellationToken) =>
{
    broadcastGroup[connection.Id] = connection;
    try
    {
        await foreach (WebSocketMessage message in connection.ReadMessagesAsync(cancellationToken))
        {
            if (message.IsText)
            {
                await server.BroadcastTextAsync(message.Data, subscribers, cancellationToken);
            }
            else
            {
                await server.BroadcastBinaryAsync(message.Data, subscribers, cancellationToken);
            }
        }
    }
    finally
    {
        broadcastGroup.TryRemove(connection.Id, out _);
    }
});
server.MapFallback(async (connection, cancellationToken) =>
{
    await foreach (WebSocketMessage message in connection.ReadMessagesAsync(cancellationToken))
    {
        await connection.SendAsync(message, cancellationToken);
    }
});

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

await server.StartAsync(stop.Token);
Console.WriteLine($"Tern.Echo listening on {(tls is null ? "ws" : "wss")}://{server.LocalEndPoints[0]}/ (Ctrl+C to stop)");
try
{
    await Task.Delay(Timeout.Infinite, stop.Token);
}
catch (OperationCanceledException)
{
}

await server.StopAsync();
return 0;
