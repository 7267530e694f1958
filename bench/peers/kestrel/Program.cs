// The benchmark peer on Kestrel + System.Net.WebSockets, written the way a .NET user would write it:
// /echo sends every message back; /broadcast sends every message it receives to every /broadcast connection,
// sender included, through one send queue per connection (a WebSocket allows one send at a time).
//
// Usage: Tern.Bench.Kestrel --port P [--ping-interval SECONDS] [--cert cert.pem --key key.pem] [--deflate]
//   --cert/--key: https and wss (Kestrel's TLS: SslStream); --deflate: permessage-deflate, no context takeover.
using System.Net;
using Tern.Bench.Kestrel;

var port = CommandLine.Port(args);
var webSocketOptions = CommandLine.WebSocketOptions(args);
var certificate = CommandLine.Certificate(args);
var acceptContext = CommandLine.AcceptContext(args);

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Listen(IPAddress.Loopback, port, listen =>
    {
        if (certificate is not null)
        {
            listen.UseHttps(certificate);
        }
    });
});

var app = builder.Build();
app.UseWebSockets(webSocketOptions);

var hub = new BroadcastHub();
app.Map("/echo", context => WebSocketEndpoints.EchoAsync(context, acceptContext));
app.Map("/broadcast", context => WebSocketEndpoints.BroadcastAsync(context, hub, acceptContext));

Console.WriteLine($"kestrel on {(certificate is null ? "ws" : "wss")}://127.0.0.1:{port}"
    + (acceptContext.DangerousEnableCompression ? " with permessage-deflate" : ""));
await app.RunAsync();
