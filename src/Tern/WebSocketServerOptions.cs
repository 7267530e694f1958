using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tern;

/// <summary>Settings of a <see cref="WebSocketServer"/>. Read once, when the server starts.</summary>
public sealed class WebSocketServerOptions
{
    /// <summary>
    /// The addresses to listen on. Port 0 picks a free port (read it back from <see cref="WebSocketServer.LocalEndPoints"/>).
    /// <see cref="IPAddress.IPv6Any"/> listens on IPv4 and IPv6 at once. Empty means 127.0.0.1 on a free port.
    /// </summary>
    public IList<IPEndPoint> EndPoints { get; } = new List<IPEndPoint>();

    /// <summary>Largest message accepted, in bytes, summed over its fragments; a larger one closes the connection with 1009. Default 1 MiB.</summary>
    public long MaxMessageSize { get; set; } = 1024 * 1024;

    /// <summary>Largest HTTP request head (request line and headers) accepted, in bytes; larger gets 431. Default 8 KiB.</summary>
    public int MaxRequestHeadSize { get; set; } = 8 * 1024;

    /// <summary>Most HTTP request headers accepted; more gets 431. Default 100.</summary>
    public int MaxRequestHeaderCount { get; set; } = 100;

    /// <summary>
    /// Largest body accepted with a plain HTTP request for <see cref="HttpHandler"/>, in bytes. A request declaring a
    /// longer <c>Content-Length</c> gets 413 Content Too Large before any of its body is read; 0 (or less) accepts only
    /// empty bodies. A body is held in memory whole, and counts against <see cref="MaxBufferedBytes"/> while its request
    /// is handled. Default 64 KiB.
    /// </summary>
    public int MaxRequestBodySize { get; set; } = 64 * 1024;

    /// <summary>
    /// How long a client may take to send its complete HTTP request after connecting: the TLS handshake (with
    /// <see cref="Tls"/>), the head, and the body of a plain HTTP request. Default 10 s.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// TLS settings: set them and the server speaks wss (and https to plain HTTP requests) on every endpoint; null (the
    /// default) is plain ws. The TLS handshake counts against <see cref="HandshakeTimeout"/>.
    /// </summary>
    public WebSocketTlsOptions? Tls { get; set; }

    /// <summary>How long to wait for the peer's close frame after sending ours, before dropping the TCP connection. Default 5 s.</summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How often to ping a connection that has sent nothing; <see cref="TimeSpan.Zero"/> turns keepalive off.
    /// Default 20 s.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How long a connection may stay silent after a keepalive ping before it is dropped as dead. Default 20 s.
    /// Any data from the peer counts as a sign of life, not only the pong.
    /// </summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>On stop, how long connections get to finish the close handshake after 1001 Going Away before they are dropped. Default 2 s.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Most bytes queued for sending on one connection, control frames included; what happens past it is the
    /// <see cref="SlowConsumerPolicy"/>. While the queue is over it, the connection's reader also stops reading from the
    /// peer (so a peer that sends but never reads, pings included, is slowed down by TCP). Default 16 MiB.
    /// </summary>
    public long MaxSendQueueSize { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// What a send does when the connection's queue is already over <see cref="MaxSendQueueSize"/>: wait for it to drain
    /// (the default), drop the message, or close the connection with 1008 ahead of the backlog. A broadcast never waits:
    /// it drops under <see cref="SlowConsumerPolicy.Drop"/> and closes otherwise.
    /// </summary>
    public SlowConsumerPolicy SlowConsumerPolicy { get; set; } = SlowConsumerPolicy.Wait;

    /// <summary>
    /// Most bytes all connections together may hold in messages being received (reassembly buffers). A message whose
    /// buffer would take the total past it closes its connection with 1013 Try Again Later, and other connections are
    /// untouched; without it, many peers each sending a large message slowly could exhaust memory although every one
    /// stays under <see cref="MaxMessageSize"/>. Plain HTTP request bodies being handled count too; one that does not fit
    /// gets 503. Default: a quarter of the memory available to the process (the machine's or the container's limit).
    /// </summary>
    public long MaxBufferedBytes { get; set; } = DefaultMaxBufferedBytes();

    /// <summary>
    /// Most connections the server holds at once, counting every accepted socket not yet closed: handshaking, open and
    /// closing. Over it, a new connection is accepted (to free the kernel's backlog) and refused cheaply: it gets
    /// <c>503 Service Unavailable</c> with <c>Retry-After</c> if its request head arrives within a second, and is closed
    /// otherwise. Null or 0 (the default) derives the limit from the process's file-descriptor limit, read once at start:
    /// that limit less 10 % and 128 descriptors kept for the runtime, logs, databases and TLS (1,024 gives 794; 10,000
    /// where the limit cannot be read). The value in effect is <see cref="WebSocketServer.MaxConnections"/>.
    /// </summary>
    public int? MaxConnections { get; set; }

    /// <summary>
    /// Most connections from one remote IP address at once (an IPv4-mapped IPv6 address counts as its IPv4 address),
    /// counted like <see cref="MaxConnections"/>; over it, the same <c>503</c> refusal. Null or 0 (the default): no limit.
    /// </summary>
    public int? MaxConnectionsPerAddress { get; set; }

    /// <summary>
    /// permessage-deflate (RFC 7692): null (the default) declines it; set, the server accepts a client's offer within
    /// these settings. See docs/compression.md for the memory it costs and the CRIME/BREACH caveat.
    /// </summary>
    public WebSocketCompressionOptions? Compression { get; set; }

    /// <summary>Subprotocols the server speaks, in its order of preference; the first one the client also offers is chosen.</summary>
    public IList<string> Subprotocols { get; } = new List<string>();

    /// <summary>
    /// Origins allowed to connect (exact match of the Origin header, e.g. <c>https://example.com</c>). Empty allows every origin.
    /// A request from another origin gets 403. Requests without an Origin header (non-browser clients) are allowed.
    /// </summary>
    public IList<string> AllowedOrigins { get; } = new List<string>();

    /// <summary>
    /// Called for each valid upgrade request, after the origin check and before the 101 response: inspect headers,
    /// query and cookies, refuse with <see cref="WebSocketHandshakeContext.Reject"/> (401, 403, ...), choose another
    /// subprotocol, or attach data to the connection through <see cref="WebSocketHandshakeContext.Items"/>.
    /// </summary>
    public Func<WebSocketHandshakeContext, CancellationToken, ValueTask>? OnHandshake { get; set; }

    /// <summary>
    /// Handles HTTP requests that are not WebSocket upgrades (for example, serving a page with
    /// <c>Tern.Http.StaticFileResponder</c>). When null, such requests get 426 Upgrade Required.
    /// </summary>
    public Func<Http.HttpRequestContext, CancellationToken, ValueTask>? HttpHandler { get; set; }

    /// <summary>A quarter of the memory the runtime sees as available (physical memory, or the container's limit).</summary>
    internal static long DefaultMaxBufferedBytes()
    {
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return available > 0 ? available / 4 : 1L << 30;
    }

    /// <summary>Where the server logs. Silent by default.</summary>
    public ILoggerFactory LoggerFactory { get; set; } = NullLoggerFactory.Instance;

    /// <summary>
    /// Creates the server's <c>Tern</c> meter (the host's factory, so the meter is scoped to its container and disposed
    /// with it). Null (the default): the server creates the meter itself and disposes it when it stops. The metrics are
    /// listed in docs/configuration.md.
    /// </summary>
    public IMeterFactory? MeterFactory { get; set; }
}
