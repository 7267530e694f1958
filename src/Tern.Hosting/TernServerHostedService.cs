using Microsoft.Extensions.Hosting;

namespace Tern.Hosting;

/// <summary>Starts the registered <see cref="WebSocketServer"/> with the host and stops it with the host.</summary>
internal sealed class TernServerHostedService(WebSocketServer server) : IHostedService
{
    /// <summary>Binds the listening sockets; a port in use or a bad option fails the host's start.</summary>
    public Task StartAsync(CancellationToken cancellationToken) => server.StartAsync(cancellationToken);

    /// <summary>
    /// Sends 1001 Going Away to every client and waits at most <see cref="WebSocketServerOptions.ShutdownTimeout"/>
    /// for the closing handshakes and the handlers. The host's shutdown token cuts that short if it fires first.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken) => server.StopAsync(cancellationToken);
}
