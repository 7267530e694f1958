using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Tern.Chat;

ChatOptions options;
try
{
    options = ChatOptions.Load(args);
}
catch (ChatOptionsException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine("Run with --help to see the options.");
    return 2;
}

if (options.ShowHelp)
{
    Console.WriteLine(ChatOptions.Usage);
    return 0;
}

using ILoggerFactory loggerFactory = LoggerFactory.Create(logging => logging
    .AddSimpleConsole(console =>
    {
        console.SingleLine = true;
        console.TimestampFormat = "HH:mm:ss ";
    })
    .SetMinimumLevel(LogLevel.Information)
    .AddFilter("Tern", LogLevel.Warning)
    .AddFilter("Tern.Chat", LogLevel.Information));

// The first Ctrl+C or SIGTERM stops the chat cleanly; a second Ctrl+C, if stopping hangs, ends the process at once.
using var stop = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    if (!stop.IsCancellationRequested)
    {
        context.Cancel = true;
        stop.Cancel();
    }
}

using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

ChatApp app;
try
{
    app = await ChatApp.StartAsync(options, loggerFactory, stop.Token);
}
catch (ChatOptionsException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}
catch (Exception e) when (ChatApp.FindSocketError(e) is SocketError.AddressAlreadyInUse)
{
    Console.Error.WriteLine($"Port {options.Port} is already in use. Stop what uses it, or choose another port: --port {(options.Port is > 0 and < 65535 ? options.Port + 1 : 8081)}");
    return 1;
}
catch (Exception e) when (ChatApp.FindSocketError(e) is SocketError.AccessDenied)
{
    Console.Error.WriteLine($"Not allowed to listen on port {options.Port}; ports below 1024 need privileges. Choose another: --port 8080");
    return 1;
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    return 0;
}

await using (app)
{
    Console.WriteLine($"Tern.Chat is live at {app.Url}");
    if (options.TrustedProxyList.Count > 0)
    {
        Console.WriteLine($"Client addresses: from X-Forwarded-For on requests from {string.Join(", ", options.TrustedProxyList)}.");
    }

    Console.WriteLine($"History: {app.HistoryLocation}. Press Ctrl+C to stop.");
    try
    {
        await Task.Delay(Timeout.Infinite, stop.Token);
    }
    catch (OperationCanceledException)
    {
    }

    Console.WriteLine("Stopping...");
}

Console.WriteLine("Stopped.");
return 0;
