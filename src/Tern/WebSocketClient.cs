using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tern.Protocol;
using Tern.Transport;

namespace Tern;

/// <summary>Settings of a client connection made by <see cref="WebSocketClient.ConnectAsync"/>.</summary>
public sealed class WebSocketClientOptions
{
    /// <summary>Subprotocols to offer, in order of preference.</summary>
    public IList<string> Subprotocols { get; } = new List<string>();

    /// <summary>Extra request headers (Origin, Authorization, Cookie...).</summary>
    public IList<KeyValuePair<string, string>> Headers { get; } = new List<KeyValuePair<string, string>>();

    /// <summary>Largest message accepted from the server; larger closes with 1009. Default 1 MiB.</summary>
    public long MaxMessageSize { get; set; } = 1024 * 1024;

    /// <summary>How long the TCP connect and the handshake may take together. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long to wait for the server's close frame after sending ours. Default 5 s.</summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Most bytes queued for sending before sends wait. Default 16 MiB.</summary>
    public long MaxSendQueueSize { get; set; } = 16 * 1024 * 1024;

    /// <summary>The local address to connect from (for example, to spread many connections over 127.0.0.x). Null lets the system choose.</summary>
    public IPEndPoint? LocalEndPoint { get; set; }

    /// <summary>
    /// TLS settings for <c>wss://</c> URIs (a wss URI uses TLS even when this is null). Set
    /// <see cref="SslClientAuthenticationOptions.RemoteCertificateValidationCallback"/> to trust a test certificate, or
    /// <see cref="SslClientAuthenticationOptions.ClientCertificates"/> to present one. The target host (SNI and the name
    /// the certificate must match) defaults to the URI's host. Ignored for <c>ws://</c>.
    /// </summary>
    public SslClientAuthenticationOptions? Tls { get; set; }

    /// <summary>
    /// permessage-deflate (RFC 7692) to offer: null (the default) offers nothing. When the server accepts, messages of at
    /// least <see cref="WebSocketCompressionOptions.MinimumMessageSize"/> bytes are sent compressed.
    /// </summary>
    public WebSocketCompressionOptions? Compression { get; set; }

    /// <summary>Where the client logs. Silent by default.</summary>
    public ILoggerFactory LoggerFactory { get; set; } = NullLoggerFactory.Instance;
}

/// <summary>
/// Opens client connections to WebSocket servers. The connection it returns is the same type the server hands to its
/// handlers, with the same reading, sending and closing API; frames it sends are masked, as RFC 6455 requires of clients.
/// </summary>
/// <example>
/// <code>
/// await using WebSocketConnection connection = await WebSocketClient.ConnectAsync(new Uri("ws://127.0.0.1:9001/"));
/// await connection.SendTextAsync("hello");
/// await foreach (WebSocketMessage reply in connection.ReadMessagesAsync()) { Console.WriteLine(reply.GetText()); break; }
/// await connection.CloseAsync();
/// </code>
/// </example>
public static class WebSocketClient
{
    /// <summary>Connects to a <c>ws://</c> or <c>wss://</c> URI and performs the opening handshake (after the TLS one for wss).</summary>
    /// <exception cref="NotSupportedException">The scheme is neither ws nor wss.</exception>
    /// <exception cref="System.Security.Authentication.AuthenticationException">The TLS handshake failed (for example, the server's certificate is not trusted).</exception>
    /// <exception cref="WebSocketHandshakeException">The server refused or answered wrongly; the message says how.</exception>
    /// <exception cref="SocketException">The server could not be reached.</exception>
    public static async Task<WebSocketConnection> ConnectAsync(Uri uri, WebSocketClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(uri);
        options ??= new WebSocketClientOptions();
        if (!uri.IsAbsoluteUri || uri.Scheme is not ("ws" or "wss"))
        {
            throw new NotSupportedException($"Only ws:// and wss:// URIs are supported, not '{uri}'.");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        Socket socket = await ConnectSocketAsync(uri, options.LocalEndPoint, timeout.Token).ConfigureAwait(false);
        var plain = new SocketTransport(socket);
        var io = new DuplexConnection(uri.Scheme == "wss" ? new TlsTransport(plain) : plain);
        try
        {
            if (io.Transport is TlsTransport tls)
            {
                await tls.AuthenticateAsClientAsync(ForHost(options.Tls, uri), timeout.Token).ConfigureAwait(false);
            }

            io.Start();
            string key = ClientHandshake.CreateKey();
            string target = uri.PathAndQuery.Length == 0 ? "/" : uri.PathAndQuery;
            List<KeyValuePair<string, string>> headers = ClientHandshake.CreateRequestHeaders(uri, key, options.Subprotocols, options.Headers);
            if (options.Compression is { } compression)
            {
                headers.Add(new("Sec-WebSocket-Extensions", ExtensionNegotiation.CreateOffer(compression)));
            }

            ClientHandshake.WriteRequest(io.BeginOutput(), target, headers);
            io.CommitOutput();

            ClientHandshakeResult? result = null;
            while (result is null)
            {
                ReadResult read = await io.Input.ReadAsync(timeout.Token).ConfigureAwait(false);
                HttpParseStatus status = ClientHandshake.TryReadResponse(read.Buffer, key, options.Subprotocols.ToArray(), out SequencePosition consumed, out result, out string? error, options.Compression);
                if (status == HttpParseStatus.Invalid)
                {
                    throw new WebSocketHandshakeException(error!);
                }

                if (status == HttpParseStatus.NeedMoreData)
                {
                    io.Input.AdvanceTo(consumed, read.Buffer.End);
                    if (read.IsCompleted || read.IsCanceled)
                    {
                        throw new WebSocketHandshakeException("The server closed the connection during the handshake.");
                    }
                }
                else
                {
                    io.Input.AdvanceTo(consumed);
                }
            }

            var request = new HttpRequestHead("GET", target, "HTTP/1.1", new HttpHeaderCollection(headers));
            ILogger logger = options.LoggerFactory.CreateLogger("Tern.WebSocketClient");
            return new WebSocketConnection(io, request, result.Subprotocol, isClient: true, new ConnectionSettings
            {
                MaxMessageSize = options.MaxMessageSize,
                MaxSendQueueSize = options.MaxSendQueueSize,
                CloseTimeout = options.CloseTimeout,
                Logger = logger,
                Compression = options.Compression,
            }, result.Deflate, result.Extensions);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            io.Abort();
            throw new WebSocketHandshakeException($"The handshake with {uri} did not complete within {options.ConnectTimeout}.");
        }
        catch
        {
            io.Abort();
            throw;
        }
    }

    /// <summary>The caller's TLS options, or defaults, with the target host taken from the URI when not set.</summary>
    private static SslClientAuthenticationOptions ForHost(SslClientAuthenticationOptions? options, Uri uri)
    {
        string host = uri.IdnHost.Trim('[', ']');
        if (options is null)
        {
            return new SslClientAuthenticationOptions { TargetHost = host };
        }

        if (!string.IsNullOrEmpty(options.TargetHost))
        {
            return options;
        }

        // A copy: the caller's options may be shared by connections to other hosts.
        return new SslClientAuthenticationOptions
        {
            TargetHost = host,
            RemoteCertificateValidationCallback = options.RemoteCertificateValidationCallback,
            LocalCertificateSelectionCallback = options.LocalCertificateSelectionCallback,
            ClientCertificates = options.ClientCertificates,
            ClientCertificateContext = options.ClientCertificateContext,
            EnabledSslProtocols = options.EnabledSslProtocols,
            CertificateRevocationCheckMode = options.CertificateRevocationCheckMode,
            CertificateChainPolicy = options.CertificateChainPolicy,
            EncryptionPolicy = options.EncryptionPolicy,
            CipherSuitesPolicy = options.CipherSuitesPolicy,
            ApplicationProtocols = options.ApplicationProtocols,
            AllowRenegotiation = options.AllowRenegotiation,
            AllowTlsResume = options.AllowTlsResume,
        };
    }

    private static async Task<Socket> ConnectSocketAsync(Uri uri, IPEndPoint? localEndPoint, CancellationToken cancellationToken)
    {
        IPAddress[] addresses = IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out IPAddress? literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(uri.IdnHost, cancellationToken).ConfigureAwait(false);
        SocketException? last = null;
        foreach (IPAddress address in addresses)
        {
            if (localEndPoint is not null && localEndPoint.AddressFamily != address.AddressFamily)
            {
                continue;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                if (localEndPoint is not null)
                {
                    socket.Bind(localEndPoint);
                }

                await socket.ConnectAsync(new IPEndPoint(address, uri.Port), cancellationToken).ConfigureAwait(false);
                return socket;
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }
}

/// <summary>Thrown when a WebSocket opening handshake fails; the message says why.</summary>
public sealed class WebSocketHandshakeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WebSocketHandshakeException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public WebSocketHandshakeException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public WebSocketHandshakeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
