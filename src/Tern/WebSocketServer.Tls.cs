using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Tern.Diagnostics;
using Tern.Transport;

namespace Tern;

// wss: the TLS handshake that precedes the HTTP request on a server with WebSocketServerOptions.Tls.
public sealed partial class WebSocketServer
{
    /// <summary>Built once when the server starts, from <see cref="WebSocketServerOptions.Tls"/>; null on plain ws.</summary>
    private SslServerAuthenticationOptions? _tls;

    /// <summary>
    /// Runs the TLS handshake within <see cref="WebSocketServerOptions.HandshakeTimeout"/>. A client that fails it (plain
    /// HTTP on the TLS port, a scanner, an unsupported TLS version, a stall) is a routine event: one throttled line, no
    /// stack trace, and the caller drops the connection.
    /// </summary>
    private async Task<bool> AuthenticateTlsAsync(DuplexConnection io, TlsTransport transport)
    {
        using var timeout = new CancellationTokenSource(_options.HandshakeTimeout);
        try
        {
            await transport.AuthenticateAsServerAsync(_tls!, timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !io.Aborted.IsCancellationRequested)
        {
            Log.HandshakeTimeout(_logger, _connectionSettings.LogThrottles.HandshakeTimeouts, transport.RemoteEndPoint, _options.HandshakeTimeout);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            if (!io.Aborted.IsCancellationRequested)
            {
                Log.TlsHandshakeFailed(_logger, _connectionSettings.LogThrottles.TlsFailures, transport.RemoteEndPoint, e.Message);
            }
        }

        return false;
    }
}
